//go:build !amd64

package hardening

// inertArchesOfKernel finds none off amd64: the compat ABIs there
// (AArch32 on arm64...) have no probe as safe as x32's.
func inertArchesOfKernel() []string { return nil }
