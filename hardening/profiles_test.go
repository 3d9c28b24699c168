package hardening

import (
	"slices"
	"testing"
)

func TestIsBuiltinMatchesBuiltin(t *testing.T) {
	for _, n := range append(slices.Clone(BuiltinProfiles), "custom", "", "Baseline") {
		_, ok := builtin(n)
		if isBuiltin(n) != ok {
			t.Errorf("isBuiltin(%q) = %v, builtin finds it: %v", n, isBuiltin(n), ok)
		}
	}
}
