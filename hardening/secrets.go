package hardening

// secretsControl: being written.
var secretsControl = Rule{Control: "secrets", Apply: secretsRule}

func secretsRule(c *Context) error { return nil }
