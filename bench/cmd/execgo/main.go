// Command execgo is the Go reference for the process floor: it only
// replaces itself with argv[1] (given the rest as arguments), as a
// wrapper that decides nothing would. Built CGO_ENABLED=0 like secshim;
// whatever secshim costs above it is secshim's own work.
//
//	execgo /usr/sbin/runc --root /run/runc state ID
package main

import (
	"os"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		os.Exit(2)
	}
	err := syscall.Exec(os.Args[1], os.Args[1:], os.Environ())
	os.Stderr.WriteString("execgo: " + err.Error() + "\n")
	os.Exit(127)
}
