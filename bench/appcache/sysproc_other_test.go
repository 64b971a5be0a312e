//go:build !linux

package appcache

import "syscall"

func childSysProcAttr() *syscall.SysProcAttr { return nil }
