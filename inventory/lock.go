package inventory

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// ErrScanRunning is returned when another scan holds the inventory's lock.
var ErrScanRunning = errors.New("another scan is running on this inventory")

// ScanLock is an exclusive advisory lock (flock) on <db>.lock. The kernel
// releases it when the holder dies, so a killed scan never wedges the
// inventory.
type ScanLock struct {
	f *os.File
}

// LockScan takes the scan lock, waiting up to wait (0: do not wait).
func (s *Store) LockScan(ctx context.Context, wait time.Duration) (*ScanLock, error) {
	l, holder, err := lockFile(ctx, s.path+".lock", wait)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, fmt.Errorf("%w (%s) on %s: wait for it to finish, or pass --wait 10m to queue behind it", ErrScanRunning, holder, s.path)
	}
	return l, err
}

// LockDeliveries takes the lock that serialises posting (nhi scan --post,
// nhi diff --post): two runs posting at once would both find the same
// items undelivered. It waits up to wait for the other to finish.
func (s *Store) LockDeliveries(ctx context.Context, wait time.Duration) (*ScanLock, error) {
	l, holder, err := lockFile(ctx, s.path+".post.lock", wait)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, fmt.Errorf("another run (%s) is posting from %s and did not finish within %s", holder, s.path, wait)
	}
	return l, err
}

// lockFile takes an exclusive flock on path, waiting up to wait. When it
// is held by another, the error is EWOULDBLOCK and holder says who.
func lockFile(ctx context.Context, path string, wait time.Duration) (_ *ScanLock, holder string, _ error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("open lock: %w", err)
	}
	deadline := time.Now().Add(wait)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, "", fmt.Errorf("lock %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			holder := readHolder(path)
			f.Close()
			return nil, holder, syscall.EWOULDBLOCK
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	f.Truncate(0)
	f.WriteAt([]byte(fmt.Sprintf("pid %d since %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))), 0)
	return &ScanLock{f: f}, "", nil
}

func readHolder(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return "holder unknown"
	}
	return strings.TrimSpace(string(b))
}

// Unlock releases the lock.
func (l *ScanLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	err := l.f.Close()
	l.f = nil
	return err
}

// scanLockHeld reports whether some process holds the scan lock now.
func (s *Store) scanLockHeld() bool {
	f, err := os.OpenFile(s.path+".lock", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return true
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}
