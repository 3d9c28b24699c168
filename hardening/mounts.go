package hardening

// mountsControl: being written.
var mountsControl = Rule{Control: "mounts", Apply: mountsRule}

func mountsRule(c *Context) error { return nil }
