package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one child process that can be killed with SIGKILL and started
// again with the same arguments, its output appended to a log file.
type proc struct {
	name string
	bin  string
	args []string
	env  []string
	log  string
	// cpuOf reads a running process's CPU time in ms; nil reads
	// /proc/PID/stat.
	cpuOf func(pid int) (float64, bool)

	mu     sync.Mutex
	cmd    *exec.Cmd
	starts int
	// cpuGone is the CPU ms of earlier runs of the process, read just
	// before each kill: a restarted process's counter starts from zero.
	cpuGone float64
}

func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	go func() { _ = cmd.Wait(); f.Close() }()
	p.cmd = cmd
	p.starts++
	return nil
}

// startCount is how many times the process was started.
func (p *proc) startCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts
}

// kill sends SIGKILL and waits until the process is gone. Its CPU time is
// read first and kept.
func (p *proc) kill() {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	ms, _ := p.readCPU(cmd.Process.Pid)
	p.mu.Lock()
	p.cmd = nil
	p.cpuGone += ms
	p.mu.Unlock()
	_ = cmd.Process.Kill()
	for i := 0; i < 500; i++ {
		if syscall.Kill(cmd.Process.Pid, 0) != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cpuMS is the CPU time of every run of the process so far, in ms.
func (p *proc) cpuMS() float64 {
	p.mu.Lock()
	cmd, gone := p.cmd, p.cpuGone
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return gone
	}
	ms, _ := p.readCPU(cmd.Process.Pid)
	return gone + ms
}

func (p *proc) readCPU(pid int) (float64, bool) {
	if p.cpuOf != nil {
		return p.cpuOf(pid)
	}
	return procCPU(pid)
}

// procCPU is utime + stime of /proc/PID/stat in ms (USER_HZ is 100).
func procCPU(pid int) (float64, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name in parentheses may hold spaces: fields count from
	// the last ')', where state is the first and utime the twelfth.
	i := strings.LastIndexByte(string(raw), ')')
	f := strings.Fields(string(raw)[i+1:])
	if i < 0 || len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return 10 * (utime + stime), true
}

// rssKB is the process's resident memory, 0 when it is not running.
func (p *proc) rssKB() int {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return 0
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(rest)[0])
			return n
		}
	}
	return 0
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
