// Command secshim is an OCI runtime that hardens every container it
// creates, then hands off to crun, runc, runsc or kata.
package main

import (
	"os"

	"github.com/secshim/secshim/runtimes"
)

func main() {
	os.Exit(runtimes.Main(os.Args[0], os.Args[1:]))
}
