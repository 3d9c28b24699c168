// Command secshim is an OCI runtime that hardens every container it
// creates, then hands off to crun, runc, runsc or kata.
// A runtime wrapper lives a few milliseconds: GOMAXPROCS need not follow
// the cgroup's CPU limit, nor the runtime re-read it later. (Go 1.26 still
// reads the limit once at start, for a metric, whatever these say.)
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"os"

	"github.com/secshim/secshim/runtimes"
)

func main() {
	os.Exit(runtimes.Main(os.Args[0], os.Args[1:]))
}
