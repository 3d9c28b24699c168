package runtimes

// check: being written.
func (a *admin) check(args []string) int { return a.usage("", "check: not yet available") }
