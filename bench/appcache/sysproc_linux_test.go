package appcache

import "syscall"

// childSysProcAttr makes redis-server die with the test binary, so that an
// aborted run (a test timeout) does not leave it running.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
