package runtimes

// attest: being written.
func (a *admin) attest(args []string) int { return a.usage("", "attest: not yet available") }
