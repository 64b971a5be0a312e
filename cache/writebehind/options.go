package writebehind

import (
	"errors"
	"fmt"
	"time"
)

// Options configure a Queue. Zero values take the defaults named.
type Options struct {
	// Dir is the journal directory. It is created with mode 0700 if it does
	// not exist, and only one Queue at a time may have it open. Required.
	Dir string

	// BatchSize is the most writes handed to one FlushFunc call (before
	// coalescing). Default 256.
	BatchSize int

	// FlushInterval bounds how long a write waits before a flush starts
	// while the flusher is idle: a flush starts when BatchSize writes are
	// pending, when the oldest pending write has waited FlushInterval, or
	// when Flush is called. Writes that arrive while a flush is running go
	// into the next one, which starts as soon as it ends. Default 100ms.
	FlushInterval time.Duration

	// SegmentSize is the size at which the journal starts a new segment
	// file. A segment holds whole commits, so it can exceed SegmentSize by
	// one group of writes. Segments whose writes are all flushed are
	// deleted. Default 64 MiB.
	SegmentSize int64

	// MaxValueSize is the largest value Enqueue accepts; a larger one fails
	// with ErrTooLarge. Default 1 MiB; at most 512 MiB.
	MaxValueSize int

	// RetryBackoff is the delay before retrying a failed flush. It doubles
	// with each failure in a row, up to 30 times RetryBackoff. Default 100ms.
	RetryBackoff time.Duration

	// Recorder receives flush and lag measurements. Nil records nothing.
	Recorder Recorder
}

const (
	defaultBatchSize     = 256
	defaultFlushInterval = 100 * time.Millisecond
	defaultSegmentSize   = 64 << 20
	defaultMaxValueSize  = 1 << 20
	defaultRetryBackoff  = 100 * time.Millisecond
	maxMaxValueSize      = 512 << 20
	maxRetryFactor       = 30
)

// withDefaults checks o and returns it with defaults filled in.
func (o Options) withDefaults() (Options, error) {
	var errs []error
	check := func(bad bool, format string, args ...any) {
		if bad {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(o.Dir == "", "Dir is required")
	check(o.BatchSize < 0, "BatchSize %d is negative", o.BatchSize)
	check(o.FlushInterval < 0, "FlushInterval %v is negative", o.FlushInterval)
	check(o.SegmentSize < 0, "SegmentSize %d is negative", o.SegmentSize)
	check(o.MaxValueSize < 0 || o.MaxValueSize > maxMaxValueSize,
		"MaxValueSize %d is outside [0, %d]", o.MaxValueSize, maxMaxValueSize)
	check(o.RetryBackoff < 0, "RetryBackoff %v is negative", o.RetryBackoff)
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("writebehind: options: %w", err)
	}
	if o.BatchSize == 0 {
		o.BatchSize = defaultBatchSize
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = defaultFlushInterval
	}
	if o.SegmentSize == 0 {
		o.SegmentSize = defaultSegmentSize
	}
	if o.MaxValueSize == 0 {
		o.MaxValueSize = defaultMaxValueSize
	}
	if o.RetryBackoff == 0 {
		o.RetryBackoff = defaultRetryBackoff
	}
	if o.Recorder == nil {
		o.Recorder = nopRecorder{}
	}
	return o, nil
}

type nopRecorder struct{}

func (nopRecorder) Flushed(int, time.Duration, error) {}
func (nopRecorder) Lag(int, time.Duration)            {}
