// Command secshim is an OCI runtime that hardens every container it
// creates, then hands off to crun, runc, runsc or kata.
// A runtime wrapper lives a few milliseconds and does not need the Go
// runtime to read cgroup CPU limits at start or to track them later.
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
