package ns

import (
	"errors"
	"runtime"
	"syscall"
	"testing"
)

func TestInit(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	Init()
	h := NlHandle()
	if h == nil {
		t.Fatal("NlHandle is nil after Init")
	}
	if _, err := h.LinkByName("lo"); err != nil {
		t.Errorf("the handle can not find lo: %v", err)
	}
	if fd := ParseHandlerInt(); fd < 0 {
		t.Errorf("ParseHandlerInt = %d", fd)
	}
	// Moving to the namespace the thread is in already needs
	// CAP_SYS_ADMIN, which a test may lack.
	if err := SetNamespace(); err != nil && !errors.Is(err, syscall.EPERM) {
		t.Errorf("SetNamespace: %v", err)
	}
	if NlHandle() != h {
		t.Error("a second NlHandle is not the one Init opened")
	}
}
