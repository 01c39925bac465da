package main

// outage: issue 6, point 9, "client latency during catch-up" (bench/backup/outage.sh).
//
// One daemon (backup.capture true, s3 -> an s3rver), one continuous open-loop load (load.go),
// and --cycles repetitions of
//   N  normal:    S3 up, --normal seconds;
//   O  outage:    s3rver stopped for --before + --after seconds; the daemon's own scheduled
//                 snapshot (backup.interval = --interval) falls --before seconds into it, so the
//                 history has a snapshot to backfill (the cycle is placed on the scheduler's grid:
//                 the snapshots are due at base + k * interval);
//   C  catch-up:  s3rver started again on the same port and data directory; observed until
//                 nothing is pending (or --catchup-max).
// What the bucket holds is followed from the daemon's own record of acknowledged uploads
// (<backup dir>/.remote.json, rewritten after every acknowledged object), polled every 250 ms:
// the metrics are only refreshed at the end of a shipping pass, and the catch-up and the
// backfill are one pass. From it:
//   t_pass      first request s3rver logs after the restart (the shipper's retry; back-off);
//   t_current   the bucket's position (newest snapshot of the generation + contiguous segments,
//               as replica::remote_position computes it) reaches what the pass ends with — the
//               catch-up objects are all acknowledged, the history follows;
//   t_done      the pass is over and nothing is pending (metagate_s3_queue_objects 0 after the
//               uploads; the last acknowledged object before it).
// Write latencies (scheduled time -> acknowledged COMMIT) per window, compared with N.

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ---- local and remote state -------------------------------------------------------------------

type ogManifest struct {
	ID            string  `json:"id"`
	CreatedUnixMs int64   `json:"created_unix_ms"`
	RawBytes      int64   `json:"raw_bytes"`
	StoredBytes   int64   `json:"stored_bytes"`
	CopySeconds   float64 `json:"copy_seconds"`
	TotalSeconds  float64 `json:"total_seconds"`
	Reason        string  `json:"reason"`
	Generation    string  `json:"generation"`
	SeqLo         uint64  `json:"seq_lo"`
}

func ogManifests(dir string) []ogManifest {
	ents, _ := os.ReadDir(dir)
	var out []ogManifest
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			continue
		}
		var m ogManifest
		if json.Unmarshal(b, &m) == nil && m.ID != "" {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

type ogBase struct {
	Generation string `json:"generation"`
	SeqLo      uint64 `json:"seq_lo"`
}

type ogRemote struct {
	Keys      []string          `json:"keys"`
	Snapshots map[string]ogBase `json:"snapshots"`
}

var reSegName = regexp.MustCompile(`^(\d{16})-(\d{16})\.seg$`)

// ogRemotePos: what replica::remote_position computes from the daemon's record: the newest
// snapshot of `gen` whose data and manifest are in the bucket, then the segments that continue
// it without a gap.
func ogRemotePos(r *ogRemote, root, gen string) uint64 {
	keys := map[string]bool{}
	for _, k := range r.Keys {
		keys[k] = true
	}
	var base uint64
	found := false
	for id, b := range r.Snapshots {
		if b.Generation == gen && keys[root+"/snapshots/"+id+".db.zst"] && keys[root+"/snapshots/"+id+".json"] {
			if !found || b.SeqLo > base {
				base = b.SeqLo
			}
			found = true
		}
	}
	if !found {
		return 0
	}
	type seg struct{ first, last uint64 }
	var segs []seg
	p := root + "/wal/" + gen + "/"
	for _, k := range r.Keys {
		if !strings.HasPrefix(k, p) {
			continue
		}
		if m := reSegName.FindStringSubmatch(k[len(p):]); m != nil {
			f, _ := strconv.ParseUint(m[1], 10, 64)
			l, _ := strconv.ParseUint(m[2], 10, 64)
			segs = append(segs, seg{f, l})
		}
	}
	sort.Slice(segs, func(a, b int) bool {
		if segs[a].last != segs[b].last {
			return segs[a].last < segs[b].last
		}
		return segs[a].first < segs[b].first
	})
	pos := base
	for _, s := range segs {
		if s.first <= pos+1 && s.last > pos {
			pos = s.last
		}
	}
	return pos
}

// ogSealed: the newest commit in a sealed local segment of `gen`, and the sealed segments' bytes.
func ogSealed(dir, gen string) (last uint64, bytes int64) {
	ents, _ := os.ReadDir(filepath.Join(dir, "wal", gen))
	for _, e := range ents {
		if m := reSegName.FindStringSubmatch(e.Name()); m != nil {
			l, _ := strconv.ParseUint(m[2], 10, 64)
			if l > last {
				last = l
			}
			if fi, err := e.Info(); err == nil {
				bytes += fi.Size()
			}
		}
	}
	return
}

// ---- the poller -------------------------------------------------------------------------------

var ogMetricNames = []string{"metagate_capture_commit", "metagate_capture_bytes_total", "metagate_capture_transactions_total",
	"metagate_s3_remote_commit", "metagate_s3_queue_objects", "metagate_s3_catch_up_objects", "metagate_s3_remote_lag_seconds",
	"metagate_s3_remote_lag_bytes", "metagate_s3_uploaded_bytes_total", "metagate_s3_uploaded_objects_total", "metagate_s3_errors_total",
	"metagate_s3_last_current_timestamp_seconds", "metagate_s3_last_upload_timestamp_seconds", "metagate_backup_successes_total",
	"metagate_process_cpu_seconds_total", "metagate_sqlite_wal_bytes", "metagate_sqlite_checkpoints_total", "metagate_backup_segment_bytes"}

type ogPoint struct {
	T                int64 // ns since the load's t0
	M                map[string]float64
	RemoteKeys       int
	RemotePos        uint64
	SealedLast       uint64
	SealedBytes      int64
	CPUBusy, DirtyMB float64
	WritebackMB      float64
	DeltaFile        bool // a catch-up delta is being built or waits for its upload (.uploads/catch-up)
	TmpSnapshot      bool // a snapshot is being taken (.tmp-* in the backup directory)
}

type ogLogLine struct {
	T    int64
	Line string
}

type ogPoller struct {
	url, dir, root string
	gen            string
	t0             time.Time
	mu             sync.Mutex
	pts            []ogPoint
	keyAck         map[string]int64 // key -> when it was first seen in .remote.json
	keyOrder       []string
	logPath        string
	logOff         int64
	logLines       []ogLogLine
	stop, done     chan struct{}
}

func newOgPoller(url, dir, root, gen string, t0 time.Time) *ogPoller {
	p := &ogPoller{url: url, dir: dir, root: root, gen: gen, t0: t0, keyAck: map[string]int64{},
		stop: make(chan struct{}), done: make(chan struct{})}
	// What the bucket held before the load started counts as acknowledged at 0.
	if r := p.readRemote(); r != nil {
		for _, k := range r.Keys {
			p.keyAck[k] = 0
			p.keyOrder = append(p.keyOrder, k)
		}
	}
	go p.run()
	return p
}

func (p *ogPoller) readRemote() *ogRemote {
	b, err := os.ReadFile(filepath.Join(p.dir, ".remote.json"))
	if err != nil {
		return nil
	}
	var r ogRemote
	if json.Unmarshal(b, &r) != nil {
		return nil // caught half written
	}
	return &r
}

func (p *ogPoller) follow(log string) {
	p.mu.Lock()
	p.logPath, p.logOff = log, 0
	p.mu.Unlock()
}

func (p *ogPoller) run() {
	defer close(p.done)
	tk := time.NewTicker(250 * time.Millisecond)
	defer tk.Stop()
	pt, pi, pw := readCPU()
	for {
		select {
		case <-p.stop:
			return
		case <-tk.C:
		}
		now := time.Since(p.t0).Nanoseconds()
		pp := ogPoint{T: now, M: map[string]float64{}}
		if m, err := scrape(p.url); err == nil {
			for _, n := range ogMetricNames {
				if v, ok := m[n]; ok {
					pp.M[n] = v
				}
			}
		}
		r := p.readRemote()
		pp.SealedLast, pp.SealedBytes = ogSealed(p.dir, p.gen)
		d, w := readMeminfo()
		pp.DirtyMB, pp.WritebackMB = d/1024, w/1024
		ct, ci, cw := readCPU()
		if dt := ct - pt; dt > 0 {
			pp.CPUBusy = 100 * (1 - (ci-pi+cw-pw)/dt)
		}
		pt, pi, pw = ct, ci, cw
		if ents, err := os.ReadDir(filepath.Join(p.dir, ".uploads", "catch-up", p.gen)); err == nil && len(ents) > 0 {
			pp.DeltaFile = true
		}
		if ents, err := os.ReadDir(p.dir); err == nil {
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), ".tmp-") {
					pp.TmpSnapshot = true
				}
			}
		}
		p.mu.Lock()
		if r != nil {
			for _, k := range r.Keys {
				if _, ok := p.keyAck[k]; !ok {
					p.keyAck[k] = now
					p.keyOrder = append(p.keyOrder, k)
				}
			}
			pp.RemoteKeys = len(r.Keys)
			pp.RemotePos = ogRemotePos(r, p.root, p.gen)
		} else if n := len(p.pts); n > 0 {
			pp.RemoteKeys, pp.RemotePos = p.pts[n-1].RemoteKeys, p.pts[n-1].RemotePos
		}
		if p.logPath != "" {
			if f, err := os.Open(p.logPath); err == nil {
				if st, err := f.Stat(); err == nil && st.Size() > p.logOff {
					buf := make([]byte, st.Size()-p.logOff)
					if n, _ := f.ReadAt(buf, p.logOff); n > 0 {
						text := string(buf[:n])
						if i := strings.LastIndexByte(text, '\n'); i >= 0 {
							text = text[:i+1]
							p.logOff += int64(i + 1)
							for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
								p.logLines = append(p.logLines, ogLogLine{now, l})
							}
						}
					}
				}
				f.Close()
			}
		}
		p.pts = append(p.pts, pp)
		p.mu.Unlock()
	}
}

func (p *ogPoller) last() ogPoint {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pts) == 0 {
		return ogPoint{M: map[string]float64{}}
	}
	return p.pts[len(p.pts)-1]
}

func (p *ogPoller) Stop() {
	close(p.stop)
	<-p.done
}

// at: the last point at or before t.
func ogAt(pts []ogPoint, t int64) ogPoint {
	i := sort.Search(len(pts), func(i int) bool { return pts[i].T > t })
	if i == 0 {
		if len(pts) > 0 {
			return pts[0]
		}
		return ogPoint{M: map[string]float64{}}
	}
	return pts[i-1]
}

func ogMetric(pts []ogPoint, t int64, name string) float64 {
	v, ok := ogAt(pts, t).M[name]
	if !ok {
		return math.NaN()
	}
	return v
}

// ---- s3rver -----------------------------------------------------------------------------------

type ogS3 struct {
	script, nodeOpts, dir, bucket, logDir, pidFile string
	port                                           int
	pid                                            int // started elsewhere (outage.sh) when cmd is nil
	cmd                                            *exec.Cmd
	exited                                         chan struct{}
	n                                              int
}

func ogAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func (s *ogS3) Stop() error {
	if s.cmd != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
		s.cmd = nil
		return nil
	}
	if s.pid <= 0 {
		return fmt.Errorf("no s3rver to stop")
	}
	syscall.Kill(s.pid, syscall.SIGTERM)
	for i := 0; i < 50 && ogAlive(s.pid); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if ogAlive(s.pid) {
		syscall.Kill(s.pid, syscall.SIGKILL)
		for i := 0; i < 50 && ogAlive(s.pid); i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}
	s.pid = 0
	return nil
}

// Start: the same port and data directory (the bucket and its objects are kept). Returns the log.
func (s *ogS3) Start() (string, error) {
	s.n++
	log := filepath.Join(s.logDir, fmt.Sprintf("s3rver-restart-%d.log", s.n))
	f, err := os.Create(log)
	if err != nil {
		return "", err
	}
	cmd := exec.Command(s.script, "-d", s.dir, "-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "--configure-bucket", s.bucket)
	cmd.Env = append(os.Environ(), "NODE_OPTIONS="+s.nodeOpts)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return "", err
	}
	f.Close()
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func(c *exec.Cmd, ch chan struct{}) { c.Wait(); close(ch) }(cmd, s.exited)
	if s.pidFile != "" {
		os.WriteFile(s.pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644)
	}
	for i := 0; i < 300; i++ {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return log, nil
		}
		select {
		case <-s.exited:
			return log, fmt.Errorf("s3rver exited at start (see %s)", log)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return log, fmt.Errorf("s3rver did not listen on %d within 30 s", s.port)
}

// ---- the experiment ---------------------------------------------------------------------------

type ogCycle struct {
	n                          int
	due                        int64 // the scheduled snapshot inside the outage (ns since t0)
	nStart, oStart, oEnd, cEnd int64
	cCapped                    bool
	limit                      int64 // how far t_done may be looked for (next cycle's N, or the end)
	s3log                      string
	restartErr                 string
	// derived
	snap                                *ogManifest
	snapStart, snapEnd                  int64
	tPass, tCurrent, tDone              int64
	done                                bool
	posO0, commitO0, commitC0, posDone  uint64
	commitCur                           uint64
	capBytesO, capTxO                   float64
	upBytesN, upObjsN                   float64
	upBytesDone, upObjsDone             float64
	ackBytesCur, ackBytesDone           int64
	ackObjsCur, ackObjsDone             int
	deltaLine                           string
	lagSecMaxO, queueMaxO, errsO, errsC float64
	lastCurrentO                        float64
	lagSecAtCurrent                     float64
	metricsCurrentAt                    int64 // first point metagate_s3_remote_commit >= commit at restart
}

func cmdOutage(args []string) {
	fs := flag.NewFlagSet("outage", flag.ExitOnError)
	dsn := fs.String("dsn", "", "metagate DSN")
	metricsURL := fs.String("metrics", "", "/metrics URL")
	dir := fs.String("backup-dir", "", "the database's backup directory (backup.dir/<name>)")
	root := fs.String("root", "metagate/grafana", "the objects' prefix in the bucket (s3.prefix/<name>)")
	s3script := fs.String("s3rver", "", "the s3rver script")
	s3node := fs.String("s3rver-node-options", "", "NODE_OPTIONS for s3rver")
	s3dir := fs.String("s3rver-dir", "", "s3rver's data directory")
	s3bucket := fs.String("bucket", "", "bucket")
	s3port := fs.Int("s3rver-port", 0, "s3rver's port")
	s3pid := fs.Int("s3rver-pid", 0, "the running s3rver (started by outage.sh)")
	s3log := fs.String("s3rver-log", "", "its log")
	pidFile := fs.String("s3rver-pidfile", "", "where the pid of the s3rver this process starts is written")
	interval := fs.Float64("interval", 660, "backup.interval in seconds (snapshots are due at base + k * interval)")
	normal := fs.Float64("normal", 180, "seconds of phase N")
	before := fs.Float64("before", 240, "seconds of outage before the scheduled snapshot")
	after := fs.Float64("after", 240, "seconds of outage after it")
	cMax := fs.Float64("catchup-max", 600, "longest catch-up phase observed in the last cycle (others end before the next scheduled snapshot)")
	cycles := fs.Int("cycles", 2, "N/O/C cycles")
	rate := fs.Float64("rate", 20, "writes/s")
	readRate := fs.Float64("read-rate", 10, "reads/s")
	workers := fs.Int("workers", 8, "connections")
	budget := fs.Float64("budget", 2700, "seconds this may take")
	raw := fs.String("raw", "", "prefix of the raw TSVs")
	fs.Parse(args)
	deadline := time.Now().Add(time.Duration(*budget * 1e9))
	ctx := context.Background()
	logf := func(format string, a ...interface{}) {
		fmt.Fprintf(os.Stderr, "%s outage: %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, a...))
	}

	// The capture generation and its base snapshot: the grid of scheduled snapshots.
	ms := ogManifests(*dir)
	var base *ogManifest
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Generation != "" {
			base = &ms[i]
			break
		}
	}
	if base == nil {
		die("outage: no snapshot with a capture generation in %s", *dir)
	}
	gen := base.Generation
	baseT := time.UnixMilli(base.CreatedUnixMs)
	I := time.Duration(*interval * 1e9)

	s3 := &ogS3{script: *s3script, nodeOpts: *s3node, dir: *s3dir, bucket: *s3bucket, port: *s3port, pid: *s3pid,
		logDir: filepath.Dir(*s3log), pidFile: *pidFile}

	ld, err := NewLoad(ctx, *dsn, *rate, *readRate, *workers)
	if err != nil {
		die("load: %v", err)
	}
	if err := ld.Start(ctx, 6); err != nil {
		die("load: %v", err)
	}
	t0 := ld.t0
	rel := func(t time.Time) int64 { return t.Sub(t0).Nanoseconds() }
	since := func() int64 { return time.Since(t0).Nanoseconds() }
	pol := newOgPoller(*metricsURL, *dir, *root, gen, t0)
	pol.follow(*s3log)
	sleepUntil := func(t int64) {
		if d := time.Duration(t - since()); d > 0 {
			if time.Now().Add(d).After(deadline) {
				ld.Stop()
				die("outage: time budget exceeded")
			}
			time.Sleep(d)
		}
	}
	doneSince := func(c0 int64, objs0 float64) bool {
		p := pol.last()
		return p.T > c0 && p.M["metagate_s3_uploaded_objects_total"] > objs0 && p.M["metagate_s3_queue_objects"] == 0 &&
			p.M["metagate_s3_catch_up_objects"] == 0
	}
	// The bucket current before the first N (the first full upload of the base snapshot).
	for {
		p := pol.last()
		if p.M["metagate_s3_remote_commit"] > 0 && p.M["metagate_s3_queue_objects"] == 0 && p.M["metagate_s3_catch_up_objects"] == 0 &&
			p.M["metagate_s3_last_current_timestamp_seconds"] > 0 {
			break
		}
		if time.Now().After(deadline.Add(-10 * time.Minute)) {
			ld.Stop()
			die("outage: the bucket did not become current (remote commit %v, pending %v)", p.M["metagate_s3_remote_commit"], p.M["metagate_s3_queue_objects"])
		}
		time.Sleep(time.Second)
	}
	logf("bucket current: remote commit %.0f, capture commit %.0f", pol.last().M["metagate_s3_remote_commit"], pol.last().M["metagate_capture_commit"])

	var cyc []*ogCycle
	prevEnd := since()
	for c := 1; c <= *cycles; c++ {
		k := 1
		due := func(k int) int64 { return rel(baseT.Add(time.Duration(k) * I)) }
		for due(k)-int64((*before+*normal)*1e9) < prevEnd+5e9 {
			k++
		}
		cy := &ogCycle{n: c, due: due(k)}
		cy.nStart = cy.due - int64((*before+*normal)*1e9)
		cy.oStart = cy.due - int64(*before*1e9)
		cy.oEnd = cy.due + int64(*after*1e9)
		capEnd := cy.oEnd + int64(*cMax*1e9)
		if c < *cycles {
			capEnd = due(k+1) - 15e9 // the next scheduled snapshot is not part of the catch-up
		}
		if t0.Add(time.Duration(capEnd)).After(deadline.Add(-time.Minute)) {
			if t0.Add(time.Duration(cy.oEnd + 120e9)).After(deadline) {
				logf("cycle %d does not fit the budget: stopping after %d cycle(s)", c, c-1)
				break
			}
			capEnd = rel(deadline.Add(-time.Minute))
		}
		logf("cycle %d: N at +%.0f s, outage +%.0f..+%.0f s (snapshot due +%.0f s), catch-up observed until +%.0f s at most",
			c, float64(cy.nStart)/1e9, float64(cy.oStart)/1e9, float64(cy.oEnd)/1e9, float64(cy.due)/1e9, float64(capEnd)/1e9)
		sleepUntil(cy.nStart)
		if p := pol.last(); p.M["metagate_s3_queue_objects"] != 0 || p.M["metagate_s3_catch_up_objects"] != 0 {
			logf("warning: N starts with %v object(s) pending", p.M["metagate_s3_queue_objects"])
		}
		sleepUntil(cy.oStart)
		if err := s3.Stop(); err != nil {
			ld.Stop()
			die("outage: %v", err)
		}
		logf("cycle %d: s3rver stopped", c)
		sleepUntil(cy.oEnd)
		// The snapshot must have happened inside the outage (it takes ~20 s).
		for i := 0; i < 120; i++ {
			for _, m := range ogManifests(*dir) {
				if rel(time.UnixMilli(m.CreatedUnixMs)) >= cy.oStart {
					mm := m
					cy.snap = &mm // kept here: the next snapshot of the same hour removes it (retention)
				}
			}
			if cy.snap != nil && !pol.last().TmpSnapshot {
				break
			}
			time.Sleep(time.Second)
		}
		if cy.snap == nil {
			logf("cycle %d: warning: no snapshot inside the outage", c)
		}
		cy.oEnd = since()
		log, err := s3.Start()
		if err != nil {
			cy.restartErr = err.Error()
			logf("cycle %d: s3rver restart: %v", c, err)
		}
		cy.s3log = log
		pol.follow(log)
		c0 := since()
		objs0 := pol.last().M["metagate_s3_uploaded_objects_total"]
		logf("cycle %d: s3rver started again", c)
		for since() < capEnd && !doneSince(c0, objs0) {
			time.Sleep(250 * time.Millisecond)
		}
		cy.cEnd = since()
		cy.cCapped = !doneSince(c0, objs0)
		if cy.cCapped {
			logf("cycle %d: catch-up not finished within the observed window", c)
		} else {
			logf("cycle %d: nothing pending after %.0f s", c, float64(cy.cEnd-cy.oEnd)/1e9)
			// 30 s after it, the new normal.
			sleepUntil(cy.cEnd + 30e9)
		}
		prevEnd = since()
		cyc = append(cyc, cy)
	}
	// The last cycle: if capped, look a little longer for the end (load still running).
	if n := len(cyc); n > 0 && cyc[n-1].cCapped {
		cy := cyc[n-1]
		objs0 := ogMetric(pol.pts, cy.oEnd, "metagate_s3_uploaded_objects_total")
		for time.Now().Before(deadline.Add(-30*time.Second)) && !doneSince(cy.oEnd, objs0) {
			time.Sleep(time.Second)
		}
	}
	endT := since()
	recs := ld.Stop()
	pol.Stop()
	nerr, firstErrs := ld.Errors()
	pts := pol.pts
	for i, cy := range cyc {
		cy.limit = endT
		if i+1 < len(cyc) {
			cy.limit = cyc[i+1].nStart
		}
	}
	ogAnalyze(cyc, pts, pol, *dir, *s3dir, *s3bucket)
	writeRecs(*raw+"outage-ops.tsv", recs)
	ogWritePoints(*raw+"outage-samples.tsv", pts)
	ogWriteAcks(*raw+"outage-acks.tsv", pol, *s3dir, *s3bucket)
	ogReport(cyc, recs, pts, nerr, firstErrs, *rate, *readRate, *workers, *interval, *normal, *before, *after)
}

func ogObjSize(s3dir, bucket, key string) int64 {
	p := filepath.Join(s3dir, bucket, filepath.Dir(key), filepath.Base(key)+"._S3rver_object")
	if fi, err := os.Stat(p); err == nil {
		return fi.Size()
	}
	return 0
}

var reDelta = regexp.MustCompile(`catch-up delta for commits`)

func ogAnalyze(cyc []*ogCycle, pts []ogPoint, pol *ogPoller, dir, s3dir, bucket string) {
	ms := ogManifests(dir)
	for _, cy := range cyc {
		// The snapshot of the outage (kept locally unless retention removed it; else from the samples).
		for i := range ms {
			t := time.UnixMilli(ms[i].CreatedUnixMs).Sub(pol.t0).Nanoseconds()
			if t >= cy.oStart && t < cy.oEnd {
				m := ms[i]
				cy.snap = &m
			}
		}
		if cy.snap != nil {
			cy.snapStart = time.UnixMilli(cy.snap.CreatedUnixMs).Sub(pol.t0).Nanoseconds()
			cy.snapEnd = cy.snapStart + int64(cy.snap.TotalSeconds*1e9)
		}
		if cy.snap == nil { // from the .tmp-* files seen by the poller
			for _, p := range pts {
				if p.T >= cy.oStart && p.T < cy.oEnd && p.TmpSnapshot {
					if cy.snapStart == 0 {
						cy.snapStart = p.T
					}
					cy.snapEnd = p.T
				}
			}
		}
		c0 := cy.oEnd
		cy.posO0 = ogAt(pts, cy.oStart).RemotePos
		cy.commitO0 = uint64(ogMetric(pts, cy.oStart, "metagate_capture_commit"))
		cy.commitC0 = uint64(ogMetric(pts, c0, "metagate_capture_commit"))
		cy.capBytesO = ogMetric(pts, cy.oEnd, "metagate_capture_bytes_total") - ogMetric(pts, cy.oStart, "metagate_capture_bytes_total")
		cy.capTxO = ogMetric(pts, cy.oEnd, "metagate_capture_transactions_total") - ogMetric(pts, cy.oStart, "metagate_capture_transactions_total")
		cy.upBytesN = ogMetric(pts, cy.oStart, "metagate_s3_uploaded_bytes_total") - ogMetric(pts, cy.nStart, "metagate_s3_uploaded_bytes_total")
		cy.upObjsN = ogMetric(pts, cy.oStart, "metagate_s3_uploaded_objects_total") - ogMetric(pts, cy.nStart, "metagate_s3_uploaded_objects_total")
		cy.errsO = ogMetric(pts, cy.oEnd, "metagate_s3_errors_total") - ogMetric(pts, cy.oStart, "metagate_s3_errors_total")
		cy.lastCurrentO = float64(pol.t0.UnixNano()+cy.oEnd)/1e9 - ogMetric(pts, cy.oEnd, "metagate_s3_last_current_timestamp_seconds")
		for _, p := range pts {
			if p.T >= cy.oStart && p.T < cy.oEnd {
				cy.lagSecMaxO = math.Max(cy.lagSecMaxO, p.M["metagate_s3_remote_lag_seconds"])
				cy.queueMaxO = math.Max(cy.queueMaxO, p.M["metagate_s3_queue_objects"])
			}
		}
		// t_pass: the first request s3rver answers after the restart.
		pol.mu.Lock()
		for _, l := range pol.logLines {
			if l.T < c0 || l.T > cy.limit {
				continue
			}
			s := l.Line
			if strings.Contains(s, "listening") || strings.Contains(s, "already exists") || strings.TrimSpace(s) == "" {
				continue
			}
			cy.tPass = l.T
			break
		}
		pol.mu.Unlock()
		// t_done: the first sample after the uploads with nothing pending.
		objs0 := ogMetric(pts, c0, "metagate_s3_uploaded_objects_total")
		bytes0 := ogMetric(pts, c0, "metagate_s3_uploaded_bytes_total")
		var donePt ogPoint
		for _, p := range pts {
			if p.T <= c0 || p.T > cy.limit {
				continue
			}
			if p.M["metagate_s3_uploaded_objects_total"] > objs0 && p.M["metagate_s3_queue_objects"] == 0 && p.M["metagate_s3_catch_up_objects"] == 0 {
				donePt = p
				cy.done = true
				break
			}
		}
		if cy.done {
			cy.upBytesDone = donePt.M["metagate_s3_uploaded_bytes_total"] - bytes0
			cy.upObjsDone = donePt.M["metagate_s3_uploaded_objects_total"] - objs0
			cy.posDone = donePt.RemotePos
			// the last acknowledged object at or before it
			cy.tDone = c0
			pol.mu.Lock()
			for _, k := range pol.keyOrder {
				if t := pol.keyAck[k]; t > c0 && t <= donePt.T && t > cy.tDone {
					cy.tDone = t
				}
			}
			pol.mu.Unlock()
			for _, p := range pts {
				if p.T > c0 && p.RemotePos >= cy.posDone {
					cy.tCurrent = p.T
					break
				}
			}
		} else {
			// not finished: the furthest the bucket got
			for _, p := range pts {
				if p.T > c0 && p.T <= cy.limit && p.RemotePos > cy.posDone {
					cy.posDone = p.RemotePos
					cy.tCurrent = p.T
				}
			}
		}
		if cy.tCurrent > 0 {
			cy.commitCur = uint64(ogMetric(pts, cy.tCurrent, "metagate_capture_commit"))
		}
		for _, p := range pts {
			if p.T > c0 && p.T <= cy.limit && p.M["metagate_s3_remote_commit"] >= float64(cy.commitC0) && cy.commitC0 > 0 {
				cy.metricsCurrentAt = p.T
				break
			}
		}
		// bytes of the objects acknowledged until t_current / t_done (as stored by s3rver)
		pol.mu.Lock()
		for _, k := range pol.keyOrder {
			t := pol.keyAck[k]
			if t <= c0 {
				continue
			}
			sz := ogObjSize(s3dir, bucket, k)
			if cy.tCurrent > 0 && t <= cy.tCurrent {
				cy.ackBytesCur += sz
				cy.ackObjsCur++
			}
			end := cy.tDone
			if !cy.done {
				end = cy.limit
			}
			if t <= end {
				cy.ackBytesDone += sz
				cy.ackObjsDone++
			}
		}
		pol.mu.Unlock()
	}
}

func ogWritePoints(path string, pts []ogPoint) {
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	fmt.Fprint(w, "t_s\tremote_keys\tremote_pos\tsealed_last\tsealed_mb\tcpu_busy\tdirty_mb\twriteback_mb\tdelta_file\ttmp_snapshot")
	for _, n := range ogMetricNames {
		fmt.Fprintf(w, "\t%s", strings.TrimPrefix(n, "metagate_"))
	}
	fmt.Fprintln(w)
	for _, p := range pts {
		fmt.Fprintf(w, "%.2f\t%d\t%d\t%d\t%.1f\t%.0f\t%.0f\t%.0f\t%v\t%v", float64(p.T)/1e9, p.RemoteKeys, p.RemotePos, p.SealedLast,
			float64(p.SealedBytes)/1e6, p.CPUBusy, p.DirtyMB, p.WritebackMB, p.DeltaFile, p.TmpSnapshot)
		for _, n := range ogMetricNames {
			fmt.Fprintf(w, "\t%g", p.M[n])
		}
		fmt.Fprintln(w)
	}
	w.Flush()
}

func ogWriteAcks(path string, pol *ogPoller, s3dir, bucket string) {
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "acked_s\tbytes\tkey")
	for _, k := range pol.keyOrder {
		fmt.Fprintf(w, "%.2f\t%d\t%s\n", float64(pol.keyAck[k])/1e9, ogObjSize(s3dir, bucket, k), k)
	}
	w.Flush()
}

// ---- the report -------------------------------------------------------------------------------

func ogMB(b float64) string {
	if math.IsNaN(b) {
		return "–"
	}
	return fmt.Sprintf("%.1f", b/1e6)
}

func ogSec(ns int64) string { return fmt.Sprintf("%.0f", float64(ns)/1e9) }

func ogReport(cyc []*ogCycle, recs []Rec, pts []ogPoint, nerr int, firstErrs []string, rate, readRate float64, workers int,
	interval, normal, before, after float64) {
	win := func(a, b int64, write bool) Summary {
		return summarize(recs, func(r Rec) bool { return r.Kind.write() == write && r.Sched >= a && r.Sched < b })
	}
	cpu := func(a, b int64) float64 {
		var s float64
		n := 0
		for _, p := range pts {
			if p.T >= a && p.T < b {
				s += p.CPUBusy
				n++
			}
		}
		if n == 0 {
			return math.NaN()
		}
		return s / float64(n)
	}
	procCPU := func(a, b int64) float64 { // metagate's CPU, cores
		return (ogMetric(pts, b, "metagate_process_cpu_seconds_total") - ogMetric(pts, a, "metagate_process_cpu_seconds_total")) / (float64(b-a) / 1e9)
	}
	fmt.Printf("### Outage and catch-up under load\n\n")
	fmt.Printf("Load: %.0f writes/s + %.0f reads/s, open loop, %d connections, one continuous run. Per cycle: N = %.0f s with S3 up; "+
		"O = s3rver stopped for %.0f s, the daemon's scheduled snapshot (backup.interval %.0f s) %.0f s into it; C = s3rver started again "+
		"on the same port and data, observed until nothing is pending. Latencies in ms from the scheduled time to the acknowledged "+
		"COMMIT (writes). Errors: %d.\n\n", rate, readRate, workers, normal, before+after, interval, before, nerr)
	for _, e := range firstErrs {
		fmt.Printf("- error: %s\n", e)
	}
	fmt.Printf("Catch-up timeline (seconds after s3rver was started again) and bytes:\n\n")
	fmt.Printf("| cycle | outage s | retry seen (t_pass) | bucket current (t_current) | nothing pending (t_done) | metric remote_commit ≥ commit at restart | commits captured in the outage | captured MB (raw pages) | catch-up uploaded MB (objects) | until t_done MB (objects) | bucket position at t_current / capture commit then | snapshot in the outage: stored MB, s |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	rel := func(t, c0 int64) string {
		if t <= 0 {
			return "–"
		}
		return fmt.Sprintf("%.0f", float64(t-c0)/1e9)
	}
	for _, cy := range cyc {
		snap := "–"
		if cy.snap != nil {
			snap = fmt.Sprintf("%.1f, %.1f", float64(cy.snap.StoredBytes)/1e6, cy.snap.TotalSeconds)
		} else if cy.snapStart > 0 {
			snap = fmt.Sprintf("(removed by retention), ~%.0f", float64(cy.snapEnd-cy.snapStart)/1e9)
		}
		doneS := rel(cy.tDone, cy.oEnd)
		if !cy.done {
			doneS = "not within " + ogSec(cy.limit-cy.oEnd)
		}
		fmt.Printf("| %d | %s | %s | %s | %s | %s | %.0f | %s | %s (%d) | %s (%d) | %d / %d | %s |\n", cy.n, ogSec(cy.oEnd-cy.oStart),
			rel(cy.tPass, cy.oEnd), rel(cy.tCurrent, cy.oEnd), doneS, rel(cy.metricsCurrentAt, cy.oEnd), cy.capTxO, ogMB(cy.capBytesO),
			ogMB(float64(cy.ackBytesCur)), cy.ackObjsCur, ogMB(float64(cy.ackBytesDone)), cy.ackObjsDone, cy.posDone, cy.commitCur, snap)
	}
	fmt.Printf("\nWrite latency per window (p50 / p99 / max ms, n writes) and vs N of the same cycle:\n\n")
	fmt.Printf("| cycle | window | s | writes | p50 | p99 | max | p50 vs N | p99 vs N | reads p99 | CPU busy %% (machine) | metagate CPU (cores) |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	type w struct {
		name string
		a, b int64
	}
	pooled := map[string][]Rec{}
	var order []string
	for _, cy := range cyc {
		ws := []w{{"N (S3 up)", cy.nStart, cy.oStart}, {"O (outage, whole)", cy.oStart, cy.oEnd}}
		if cy.snapStart > 0 {
			ws = append(ws, w{"· O without the snapshot", 0, 0}, w{"· O snapshot (+5 s)", cy.snapStart, cy.snapEnd + 5e9})
		}
		cEnd := cy.tDone
		if !cy.done {
			cEnd = cy.cEnd
		}
		if cy.tPass > 0 {
			ws = append(ws, w{"C wait (S3 up, not retried yet)", cy.oEnd, cy.tPass})
			if cy.tCurrent > cy.tPass {
				ws = append(ws, w{"C catch-up (t_pass → t_current)", cy.tPass, cy.tCurrent})
				ws = append(ws, w{"C backfill (t_current → t_done)", cy.tCurrent, cEnd})
			}
			ws = append(ws, w{"C active (t_pass → t_done)", cy.tPass, cEnd})
			ws = append(ws, w{"C first 60 s from t_pass", cy.tPass, cy.tPass + 60e9})
		}
		ws = append(ws, w{"C whole (restart → t_done)", cy.oEnd, cEnd})
		if cy.done {
			ws = append(ws, w{"after (t_done → +30 s)", cy.tDone, cy.tDone + 30e9})
		}
		nS := win(cy.nStart, cy.oStart, true)
		for _, x := range ws {
			var s, rd Summary
			var keep []Rec
			var secs float64
			if x.name == "· O without the snapshot" {
				f := func(r Rec) bool {
					return r.Sched >= cy.oStart && r.Sched < cy.oEnd && !(r.Sched >= cy.snapStart && r.Sched < cy.snapEnd+5e9)
				}
				s = summarize(recs, func(r Rec) bool { return r.Kind.write() && f(r) })
				rd = summarize(recs, func(r Rec) bool { return !r.Kind.write() && f(r) })
				for _, r := range recs {
					if f(r) {
						keep = append(keep, r)
					}
				}
				secs = float64(cy.oEnd-cy.oStart-(cy.snapEnd+5e9-cy.snapStart)) / 1e9
				x.a, x.b = cy.oStart, cy.oEnd
			} else {
				s, rd = win(x.a, x.b, true), win(x.a, x.b, false)
				for _, r := range recs {
					if r.Sched >= x.a && r.Sched < x.b {
						keep = append(keep, r)
					}
				}
				secs = float64(x.b-x.a) / 1e9
			}
			key := x.name
			if _, ok := pooled[key]; !ok {
				order = append(order, key)
			}
			pooled[key] = append(pooled[key], keep...)
			fmt.Printf("| %d | %s | %.0f | %d | %s | %s | %s | %s | %s | %s | %.0f | %.2f |\n", cy.n, x.name, secs, s.N, ms(s.P50), ms(s.P99), ms(s.Max),
				ratio(s.P50, nS.P50), ratio(s.P99, nS.P99), ms(rd.P99), cpu(x.a, x.b), procCPU(x.a, x.b))
		}
	}
	if len(cyc) > 1 {
		fmt.Printf("\nPooled over the cycles:\n\n| window | writes | p50 | p99 | max | p50 vs N | p99 vs N | reads p99 |\n|---|---|---|---|---|---|---|---|\n")
		nAll := summarize(pooled["N (S3 up)"], func(r Rec) bool { return r.Kind.write() })
		for _, k := range order {
			s := summarize(pooled[k], func(r Rec) bool { return r.Kind.write() })
			rd := summarize(pooled[k], func(r Rec) bool { return !r.Kind.write() })
			fmt.Printf("| %s | %d | %s | %s | %s | %s | %s | %s |\n", k, s.N, ms(s.P50), ms(s.P99), ms(s.Max), ratio(s.P50, nAll.P50), ratio(s.P99, nAll.P99), ms(rd.P99))
		}
	}
	fmt.Printf("\nVolumes per cycle (MB = 10^6 bytes):\n\n| cycle | N: uploaded MB in %.0f s (objects) → per hour | O: captured MB (raw) → per hour | catch-up MB / captured MB | until t_done MB / captured MB | whole-file-per-hour: snapshot stored MB | S3 errors counted in O | metagate_s3_remote_lag_seconds max in O | metagate_s3_queue_objects max in O |\n|---|---|---|---|---|---|---|---|---|\n", normal)
	for _, cy := range cyc {
		nSecs := float64(cy.oStart-cy.nStart) / 1e9
		oSecs := float64(cy.oEnd-cy.oStart) / 1e9
		snap := math.NaN()
		if cy.snap != nil {
			snap = float64(cy.snap.StoredBytes)
		}
		fmt.Printf("| %d | %s (%.0f) → %s | %s → %s | %.3f | %.3f | %s | %.0f | %.0f | %.0f |\n", cy.n, ogMB(cy.upBytesN), cy.upObjsN, ogMB(cy.upBytesN/nSecs*3600),
			ogMB(cy.capBytesO), ogMB(cy.capBytesO/oSecs*3600), float64(cy.ackBytesCur)/cy.capBytesO, float64(cy.ackBytesDone)/cy.capBytesO,
			ogMB(snap), cy.errsO, cy.lagSecMaxO, cy.queueMaxO)
	}
	// The slowest writes during catch-up, with what the machine did.
	fmt.Printf("\nSlowest writes from the restart to t_done (t = scheduled, s after the restart):\n\n| cycle | t s | window | kind | latency ms | service ms | CPU busy %% ±1 s | dirty MB | writeback MB | delta being built |\n|---|---|---|---|---|---|---|---|---|---|\n")
	type sl struct {
		cy *ogCycle
		r  Rec
	}
	var slow []sl
	for _, cy := range cyc {
		end := cy.tDone
		if !cy.done {
			end = cy.cEnd
		}
		for _, r := range recs {
			if r.Kind.write() && r.Sched >= cy.oEnd && r.Sched < end {
				slow = append(slow, sl{cy, r})
			}
		}
	}
	sort.Slice(slow, func(a, b int) bool { return slow[a].r.Lat > slow[b].r.Lat })
	for i := 0; i < len(slow) && i < 12; i++ {
		cy, r := slow[i].cy, slow[i].r
		wn := "wait"
		switch {
		case cy.tPass > 0 && r.Sched >= cy.tPass && (cy.tCurrent == 0 || r.Sched < cy.tCurrent):
			wn = "catch-up"
		case cy.tCurrent > 0 && r.Sched >= cy.tCurrent:
			wn = "backfill"
		}
		var cb, dm, wb float64
		n := 0
		delta := false
		for _, p := range pts {
			if p.T >= r.Sched-1e9 && p.T <= r.Sched+r.Lat+1e9 {
				cb += p.CPUBusy
				dm = math.Max(dm, p.DirtyMB)
				wb = math.Max(wb, p.WritebackMB)
				delta = delta || p.DeltaFile
				n++
			}
		}
		if n > 0 {
			cb /= float64(n)
		}
		fmt.Printf("| %d | %.1f | %s | %s | %s | %s | %.0f | %.0f | %.0f | %v |\n", cy.n, float64(r.Sched-cy.oEnd)/1e9, wn, kindNames[r.Kind],
			ms(float64(r.Lat)/1e6), ms(float64(r.Svc)/1e6), cb, dm, wb, delta)
	}
	fmt.Println()
	for _, cy := range cyc {
		if cy.restartErr != "" {
			fmt.Printf("- cycle %d: s3rver restart: %s\n", cy.n, cy.restartErr)
		}
		fmt.Printf("- cycle %d: bucket position when the outage began %d; capture commit then %d, at the restart %d; position at t_done %d; "+
			"metagate_s3_last_current_timestamp_seconds at the end of the outage: %.0f s old\n", cy.n, cy.posO0, cy.commitO0, cy.commitC0,
			cy.posDone, cy.lastCurrentO)
	}
	fmt.Println()
}
