package hardening

// privilegedControl: being written.
var privilegedControl = Rule{Control: "privileged", Apply: privilegedRule}

func privilegedRule(c *Context) error { return nil }
