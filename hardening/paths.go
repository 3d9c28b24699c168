package hardening

// pathsControl: being written.
var pathsControl = Rule{Control: "paths", Apply: pathsRule}

func pathsRule(c *Context) error { return nil }
