package testenv

import "syscall"

// childSysProcAttr makes a directly started server die with the test binary,
// so that an aborted test run does not leave it running.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
