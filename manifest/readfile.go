package manifest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ReadFile reads the regular file at path, at most max bytes. It is the one
// way aegis reads a file a change may have put in place (a manifest, a
// values file, a policy): a symlink to /dev/zero must not exhaust memory, a
// FIFO must not block the run, a directory or a device is no input.
//
// The file is opened without blocking (a FIFO with no writer would block
// the open itself) and the mode is checked on the opened descriptor, so the
// file checked is the file read; the read stops after max bytes whatever the
// size said. Errors are plain: callers add the file's name.
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, readError(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s%s); give a regular file", modeName(fi.Mode()), linkNote(path))
	}
	if fi.Size() > max {
		return nil, &TooLargeError{Size: fi.Size(), Max: max}
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, &TooLargeError{Size: -1, Max: max} // it grew while read
	}
	return data, nil
}

// TooLargeError is a file above ReadFile's limit.
type TooLargeError struct {
	Size int64 // -1: more than Max, found while reading
	Max  int64
}

func (e *TooLargeError) Error() string {
	if e.Size < 0 {
		return fmt.Sprintf("file is more than %d bytes, above the limit", e.Max)
	}
	return fmt.Sprintf("file is %d bytes, above the limit of %d", e.Size, e.Max)
}

// readError words an open error without the path (the caller names the
// file once): a symlink loop is a bad input like a missing file.
func readError(err error) error {
	switch {
	case errors.Is(err, syscall.ELOOP):
		return errors.New("symlink loop: the file's symlinks never resolve; remove the symlink")
	case errors.Is(err, syscall.ENXIO):
		// A socket, or a FIFO on a system that refuses a non-blocking open.
		return errors.New("not a regular file; give a regular file")
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func modeName(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.String()
}

// linkNote says that path is a symlink, when it is one: the user sees a
// name that looks like a file.
func linkNote(path string) string {
	if li, err := os.Lstat(path); err == nil && li.Mode()&fs.ModeSymlink != 0 {
		return ", through a symlink"
	}
	return ""
}
