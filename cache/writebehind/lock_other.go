//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package writebehind

import (
	"fmt"
	"os"
	"runtime"
)

// lockDir is not implemented here: without a lock two queues could share a
// journal and deliver each other's writes.
func lockDir(dir string) (*os.File, error) {
	return nil, fmt.Errorf("locking %s: not supported on %s", dir, runtime.GOOS)
}
