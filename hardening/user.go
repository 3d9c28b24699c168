package hardening

// userControl: being written.
var userControl = Rule{Control: "user", Apply: userRule}

func userRule(c *Context) error { return nil }
