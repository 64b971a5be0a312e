package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	clusterMasters       = 3
	clusterSlots         = 16384
	clusterNodeTimeoutMS = 5000
	clusterBusOffset     = 10000 // Redis's cluster bus listens on port+10000

	// Client ports are drawn from [clusterPortMin, clusterPortMax], so bus
	// ports fall in [20000, 29999]: the two ranges do not overlap, and both
	// lie below the default Linux ephemeral range (32768-60999), where
	// outgoing connections could take a port between the check and the bind.
	clusterPortMin = 10000
	clusterPortMax = 19999

	clusterCreateTimeout = 60 * time.Second
	clusterReadyTimeout  = 30 * time.Second
	clusterPollInterval  = 50 * time.Millisecond
)

// RedisCluster starts a private three-master Redis Cluster (no replicas) on
// 127.0.0.1 and returns the nodes' addresses, "127.0.0.1:PORT", once every
// node reports cluster_state:ok with all 16384 slots assigned. It needs
// redis-server and redis-cli (Debian's redis-tools, which redis-server
// depends on); see the package documentation for the skip-versus-fail rule
// when they are not installed. The nodes are stopped when the test ends.
func RedisCluster(t testing.TB) []string {
	t.Helper()
	bin := redisServerBin(t)
	cli := lookBin("redis-cli", "/usr/bin/redis-cli", "/usr/local/bin/redis-cli")
	if cli == "" {
		unavailable(t, "redis-cli (needed to create a Redis Cluster) not found on PATH or in /usr/bin; "+
			"it is in Debian's redis-tools package; %s", installHint)
	}

	start := time.Now()
	used := make(map[int]bool)
	nodes := make([]*RedisProcess, clusterMasters)
	addrs := make([]string, clusterMasters)
	for i := range nodes {
		conf := redisConfig{bin: bin, dir: t.TempDir(), cluster: true}
		nodes[i] = startRedisProcess(t, conf, func() int { return clusterPort(t, used) })
		used[nodes[i].conf.port] = true
		addrs[i] = nodes[i].Addr()
	}

	ctx, cancel := context.WithTimeout(context.Background(), clusterCreateTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	cmd := exec.CommandContext(ctx, cli, args...)
	cmd.Env = serverEnv()
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("timed out after %s: %w", clusterCreateTimeout, err)
		}
		t.Fatalf("testenv: redis-cli --cluster create %s: %v\n%s%s",
			strings.Join(addrs, " "), err, tail(string(out), 4096), clusterLogs(nodes))
	}

	if err := waitClusterReady(addrs); err != nil {
		t.Fatalf("testenv: Redis Cluster %s not ready: %v\nredis-cli --cluster create output:\n%s%s",
			strings.Join(addrs, " "), err, tail(string(out), 4096), clusterLogs(nodes))
	}
	t.Logf("testenv: Redis Cluster %s ready in %s", strings.Join(addrs, " "), time.Since(start).Round(time.Millisecond))
	return addrs
}

// clusterPort picks a client port p such that p and its bus port p+10000
// are both free and neither is in used.
func clusterPort(t testing.TB, used map[int]bool) int {
	t.Helper()
	for attempt := 0; attempt < 100; attempt++ {
		p := clusterPortMin + rand.IntN(clusterPortMax-clusterPortMin+1)
		if used[p] {
			continue
		}
		if portsFree(p, p+clusterBusOffset) {
			return p
		}
	}
	t.Fatalf("testenv: no port p in [%d, %d] with p and p+%d free on 127.0.0.1 after 100 attempts",
		clusterPortMin, clusterPortMax, clusterBusOffset)
	return 0
}

// portsFree reports whether every port can be bound on 127.0.0.1 right now.
func portsFree(ports ...int) bool {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for _, p := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			return false
		}
		ls = append(ls, l)
	}
	return true
}

// waitClusterReady polls CLUSTER INFO on every node until each reports
// cluster_state:ok, all slots assigned and all nodes known. Redis gives no
// notification of this, so polling with a deadline is the only way.
func waitClusterReady(addrs []string) error {
	deadline := time.Now().Add(clusterReadyTimeout)
	ticker := time.NewTicker(clusterPollInterval)
	defer ticker.Stop()
	last := make([]string, len(addrs))
	for {
		ready := 0
		for i, addr := range addrs {
			info, err := redisCommand(addr, time.Second, "CLUSTER", "INFO")
			if err != nil {
				last[i] = err.Error()
				continue
			}
			last[i] = info
			if clusterInfoReady(info, len(addrs)) {
				ready++
			}
		}
		if ready == len(addrs) {
			return nil
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			fmt.Fprintf(&b, "not every node reports cluster_state:ok with %d slots assigned after %s; last CLUSTER INFO:",
				clusterSlots, clusterReadyTimeout)
			for i, addr := range addrs {
				fmt.Fprintf(&b, "\n%s:\n%s", addr, strings.TrimSpace(last[i]))
			}
			return errors.New(b.String())
		}
		<-ticker.C
	}
}

// clusterInfoReady reports whether a CLUSTER INFO reply shows a healthy
// cluster of n nodes that covers every slot.
func clusterInfoReady(info string, n int) bool {
	fields := make(map[string]string)
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok {
			fields[k] = v
		}
	}
	return fields["cluster_state"] == "ok" &&
		fields["cluster_slots_assigned"] == strconv.Itoa(clusterSlots) &&
		fields["cluster_known_nodes"] == strconv.Itoa(n)
}

// clusterLogs returns the tail of each node's output, for error messages.
func clusterLogs(nodes []*RedisProcess) string {
	var b strings.Builder
	for _, n := range nodes {
		n.mu.Lock()
		if n.srv != nil {
			fmt.Fprintf(&b, "\nredis-server %s output:\n%s", n.Addr(), tail(n.srv.out.String(), 2048))
		}
		n.mu.Unlock()
	}
	return b.String()
}

// redisCommand sends one command to addr over a fresh connection and returns
// the reply, which must be a simple string, bulk string or integer; an error
// reply is returned as an error.
func redisCommand(addr string, timeout time.Duration, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	var req strings.Builder
	fmt.Fprintf(&req, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(conn, req.String()); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("redis error: %s", line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("unexpected bulk reply header %q", line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	default:
		return "", fmt.Errorf("unexpected reply %q", line)
	}
}
