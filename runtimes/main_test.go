package runtimes

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestRunChildStatusAndSignals(t *testing.T) {
	sh := &Backend{Name: "sh", Path: "/bin/sh"}
	if code, err := runChild(sh, []string{"-c", "exit 7"}); code != 7 || err != nil {
		t.Errorf("exit 7: got %d, %v", code, err)
	}
	if code, err := runChild(sh, []string{"-c", "kill -KILL $$"}); code != 128+9 || err != nil {
		t.Errorf("killed: got %d, %v", code, err)
	}
	// A SIGTERM sent to secshim reaches the child, and secshim survives it.
	ready := filepath.Join(t.TempDir(), "ready")
	go func() {
		for i := 0; i < 500; i++ {
			if _, err := os.Stat(ready); err == nil {
				syscall.Kill(os.Getpid(), syscall.SIGTERM)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	code, err := runChild(sh, []string{"-c", "trap 'exit 42' TERM; touch " + ready + "; i=0; while [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done"})
	if code != 42 || err != nil {
		t.Errorf("forwarded SIGTERM: got %d, %v (want the child's trap to exit 42)", code, err)
	}
}
