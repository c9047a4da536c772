//go:build !unix

package compiler

import "os/exec"

// killGroupOnCancel leaves cmd as exec.CommandContext made it: killed alone.
func killGroupOnCancel(cmd *exec.Cmd) {}
