package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Pos is a place in a configuration file. Line and Col count from 1; a zero
// Line means the problem concerns the file as a whole.
type Pos struct {
	File string
	Line int
	Col  int
}

// String formats p as file:line:col (or file alone when Line is 0).
func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Error is one problem in a configuration file, at a position.
type Error struct {
	Pos Pos
	Msg string
}

// Error formats e as "file:line:col: msg".
func (e Error) Error() string {
	return e.Pos.String() + ": " + e.Msg
}

// ErrorList is every problem found in one configuration file, in file order.
// Parse and Load return it (as *ErrorList) whenever a file is not valid, so
// a user can fix all of them at once.
type ErrorList struct {
	Errors []Error
}

// Error prints one problem per line, each as "file:line:col: msg".
func (l *ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l.Errors {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the problems as errors, so errors.As finds an Error.
func (l *ErrorList) Unwrap() []error {
	errs := make([]error, len(l.Errors))
	for i, e := range l.Errors {
		errs[i] = e
	}
	return errs
}

// sortErrors orders errors by position, keeping the order of errors at the
// same position, and drops exact duplicates.
func sortErrors(errs []Error) []Error {
	slices.SortStableFunc(errs, func(a, b Error) int {
		return cmp.Or(cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Col, b.Pos.Col))
	})
	return slices.Compact(errs)
}
