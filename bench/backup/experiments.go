package main

// The two experiments run.sh drives, and the sampler that explains their numbers.
//
// backup: one continuous load on one daemon. After --warmup seconds, --reps times:
//   quiet window (no backup; as long as the previous backup took, --quiet for the first),
//   then `metagate backup now --config F` (a consistent online snapshot of the live file,
//   integrity_check of the copy, zstd, manifest) — its window is from the command's start to
//   its exit — then an "after" window of --after seconds (the checkpoint the snapshot held
//   back, the writeback of the copy). Writes are classified by their scheduled time. The
//   backup window is split into the snapshot's phases: copy (the read transaction: manifest
//   created_unix_ms + copy_seconds), integrity (until the compressed temporary file appears in
//   the backup directory, seen by the sampler every 250 ms), compress (the rest: zstd, fsync,
//   manifest, retention).
// capture: two daemons on two copies of the same file, one with backup.capture true, one
//   false; the same load is run against each in turn (ABBA order: on, off, off, on, ...),
//   --warmup seconds discarded and --duration seconds measured per phase.

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ---- sampler ----------------------------------------------------------------------------------

type Sample struct {
	T                    int64 // ns since the sampler's reference time
	Metrics              map[string]float64
	DirtyKB, WritebackKB float64
	CPUBusy, CPUIowait   float64 // % of all CPUs over the last interval
	TmpDB, TmpZst        bool    // a snapshot's temporary copy / compressed file exists
}

type Sampler struct {
	url, dir string
	ref      time.Time
	mu       sync.Mutex
	samples  []Sample
	stop     chan struct{}
	done     chan struct{}
}

var wantMetrics = []string{"metagate_sqlite_wal_bytes", "metagate_sqlite_checkpoints_total",
	"metagate_sqlite_checkpoint_duration_seconds_sum", "metagate_sqlite_checkpoint_duration_seconds_count",
	"metagate_sqlite_commits_total", "metagate_sqlite_wal_syncs_total", "metagate_capture_bytes_total",
	"metagate_capture_transactions_total", "metagate_backup_successes_total", "metagate_process_cpu_seconds_total",
	"metagate_capture_errors_total", "metagate_capture_behind", "metagate_sqlite_writer_queue_length"}

func scrape(url string) (map[string]float64, error) {
	cl := http.Client{Timeout: 2 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		name := line[:sp]
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		out[name] += v
	}
	return out, sc.Err()
}

func readMeminfo() (dirty, wb float64) {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 {
			v, _ := strconv.ParseFloat(f[1], 64)
			switch f[0] {
			case "Dirty:":
				dirty = v
			case "Writeback:":
				wb = v
			}
		}
	}
	return
}

func readCPU() (total, idle, iowait float64) {
	b, _ := os.ReadFile("/proc/stat")
	line := strings.SplitN(string(b), "\n", 2)[0]
	f := strings.Fields(line)
	for i := 1; i < len(f); i++ {
		v, _ := strconv.ParseFloat(f[i], 64)
		if i <= 8 { // user nice system idle iowait irq softirq steal
			total += v
		}
		if i == 4 {
			idle = v
		}
		if i == 5 {
			iowait = v
		}
	}
	return
}

func NewSampler(url, dir string, ref time.Time) *Sampler {
	s := &Sampler{url: url, dir: dir, ref: ref, stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *Sampler) run() {
	defer close(s.done)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	pt, pi, pw := readCPU()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		smp := Sample{T: time.Since(s.ref).Nanoseconds()}
		m, err := scrape(s.url)
		if err == nil {
			smp.Metrics = m
		}
		smp.DirtyKB, smp.WritebackKB = readMeminfo()
		ct, ci, cw := readCPU()
		if dt := ct - pt; dt > 0 {
			smp.CPUBusy = 100 * (1 - (ci-pi+cw-pw)/dt)
			smp.CPUIowait = 100 * (cw - pw) / dt
		}
		pt, pi, pw = ct, ci, cw
		if s.dir != "" {
			ents, _ := os.ReadDir(s.dir)
			for _, e := range ents {
				n := e.Name()
				if strings.HasPrefix(n, ".tmp-") && strings.HasSuffix(n, ".db.zst") {
					smp.TmpZst = true
				} else if strings.HasPrefix(n, ".tmp-") && strings.HasSuffix(n, ".db") {
					smp.TmpDB = true
				}
			}
		}
		s.mu.Lock()
		s.samples = append(s.samples, smp)
		s.mu.Unlock()
	}
}

func (s *Sampler) Stop() []Sample {
	close(s.stop)
	<-s.done
	return s.samples
}

func metricAt(ss []Sample, t int64, name string) float64 {
	v := math.NaN()
	for _, s := range ss {
		if s.T > t {
			break
		}
		if s.Metrics != nil {
			v = s.Metrics[name]
		}
	}
	return v
}

// window statistics from the samples in [a, b].
type winStats struct {
	walPeakMB, dirtyPeakMB, wbPeakMB, cpuBusy, cpuIowait float64
	checkpoints, ckptSeconds                             float64
	n                                                    int
}

func sampleStats(ss []Sample, a, b int64) winStats {
	var w winStats
	for _, s := range ss {
		if s.T < a || s.T > b {
			continue
		}
		w.n++
		if s.Metrics != nil {
			w.walPeakMB = math.Max(w.walPeakMB, s.Metrics["metagate_sqlite_wal_bytes"]/1e6)
		}
		w.dirtyPeakMB = math.Max(w.dirtyPeakMB, s.DirtyKB/1024)
		w.wbPeakMB = math.Max(w.wbPeakMB, s.WritebackKB/1024)
		w.cpuBusy += s.CPUBusy
		w.cpuIowait += s.CPUIowait
	}
	if w.n > 0 {
		w.cpuBusy /= float64(w.n)
		w.cpuIowait /= float64(w.n)
	}
	w.checkpoints = metricAt(ss, b, "metagate_sqlite_checkpoints_total") - metricAt(ss, a, "metagate_sqlite_checkpoints_total")
	w.ckptSeconds = metricAt(ss, b, "metagate_sqlite_checkpoint_duration_seconds_sum") - metricAt(ss, a, "metagate_sqlite_checkpoint_duration_seconds_sum")
	return w
}

// ---- output helpers ---------------------------------------------------------------------------

func ms(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	if v >= 10 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func ratio(a, b float64) string {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func writeRecs(path string, recs []Rec) {
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "sched_s\tkind\tlatency_ms\tservice_ms\terror")
	for _, r := range recs {
		fmt.Fprintf(w, "%.4f\t%s\t%.3f\t%.3f\t%v\n", float64(r.Sched)/1e9, kindNames[r.Kind], float64(r.Lat)/1e6, float64(r.Svc)/1e6, r.Err)
	}
	w.Flush()
}

func writeSamples(path string, ss []Sample) {
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "t_s\twal_mb\tcheckpoints\tckpt_s_sum\tcommits\twal_syncs\tcapture_mb\twriter_queue\tdirty_mb\twriteback_mb\tcpu_busy_pct\tcpu_iowait_pct\ttmp_db\ttmp_zst")
	for _, s := range ss {
		m := s.Metrics
		if m == nil {
			m = map[string]float64{}
		}
		fmt.Fprintf(w, "%.2f\t%.1f\t%.0f\t%.3f\t%.0f\t%.0f\t%.1f\t%.0f\t%.1f\t%.1f\t%.0f\t%.0f\t%v\t%v\n", float64(s.T)/1e9,
			m["metagate_sqlite_wal_bytes"]/1e6, m["metagate_sqlite_checkpoints_total"], m["metagate_sqlite_checkpoint_duration_seconds_sum"],
			m["metagate_sqlite_commits_total"], m["metagate_sqlite_wal_syncs_total"], m["metagate_capture_bytes_total"]/1e6,
			m["metagate_sqlite_writer_queue_length"], s.DirtyKB/1024, s.WritebackKB/1024, s.CPUBusy, s.CPUIowait, s.TmpDB, s.TmpZst)
	}
	w.Flush()
}

func sleepOrDie(d time.Duration, deadline time.Time) {
	if time.Now().Add(d).After(deadline) {
		die("time budget exceeded")
	}
	time.Sleep(d)
}

// ---- backup experiment ------------------------------------------------------------------------

type manifest struct {
	ID            string  `json:"id"`
	CreatedUnixMs int64   `json:"created_unix_ms"`
	PageCount     int64   `json:"page_count"`
	RawBytes      int64   `json:"raw_bytes"`
	StoredBytes   int64   `json:"stored_bytes"`
	Integrity     string  `json:"integrity"`
	CopySeconds   float64 `json:"copy_seconds"`
	TotalSeconds  float64 `json:"total_seconds"`
	Reason        string  `json:"reason"`
}

type backupRun struct {
	rep                              int
	qStart, qEnd, bStart, bEnd, aEnd int64 // ns since load t0
	copyEnd, zstStart                int64
	m                                manifest
	output                           string
}

var reSnapID = regexp.MustCompile(`snapshot (\S+) in `)

func cmdBackup(args []string) {
	fs := flag.NewFlagSet("backup", flag.ExitOnError)
	dsn := fs.String("dsn", "", "metagate DSN")
	metricsURL := fs.String("metrics", "", "metagate's /metrics URL")
	bin := fs.String("metagate", "", "metagate binary (for `backup now`)")
	config := fs.String("config", "", "the daemon's config file")
	bdir := fs.String("backup-dir", "", "the snapshot directory of the database (backup.dir/<name>)")
	rate := fs.Float64("rate", 20, "writes per second")
	readRate := fs.Float64("read-rate", 10, "reads per second")
	workers := fs.Int("workers", 8, "client connections")
	reps := fs.Int("reps", 3, "backups")
	quiet := fs.Float64("quiet", 0, "seconds of the first quiet window (later ones: as long as the previous backup); 0 = 60")
	after := fs.Float64("after", 20, "seconds of the window after each backup")
	warmup := fs.Float64("warmup", 10, "seconds of load before the first window")
	budget := fs.Float64("budget", 3600, "seconds this experiment may take")
	rawOut := fs.String("raw", "", "prefix for raw TSVs (ops, samples)")
	fs.Parse(args)
	deadline := time.Now().Add(time.Duration(*budget * float64(time.Second)))
	ctx := context.Background()
	ld, err := NewLoad(ctx, *dsn, *rate, *readRate, *workers)
	if err != nil {
		die("load: %v", err)
	}
	if err := ld.Start(ctx, 1); err != nil {
		die("load: %v", err)
	}
	smp := NewSampler(*metricsURL, *bdir, ld.t0)
	since := func() int64 { return time.Since(ld.t0).Nanoseconds() }
	sleepOrDie(time.Duration(*warmup*1e9), deadline)
	qLen := time.Duration(*quiet * 1e9)
	if qLen == 0 {
		qLen = 60 * time.Second
	}
	var runs []backupRun
	for rep := 1; rep <= *reps; rep++ {
		br := backupRun{rep: rep}
		br.qStart = since()
		sleepOrDie(qLen, deadline)
		br.qEnd = since()
		br.bStart = since()
		left := time.Until(deadline)
		cctx, cancel := context.WithTimeout(ctx, left)
		out, err := exec.CommandContext(cctx, *bin, "backup", "now", "--config", *config).CombinedOutput()
		cancel()
		br.bEnd = since()
		br.output = strings.TrimSpace(string(out))
		if err != nil {
			ld.Stop()
			die("backup now (rep %d): %v\n%s", rep, err, out)
		}
		fmt.Fprintf(os.Stderr, "rep %d: %s\n", rep, br.output)
		if m := reSnapID.FindStringSubmatch(br.output); m != nil {
			if b, err := os.ReadFile(filepath.Join(*bdir, m[1]+".json")); err == nil {
				json.Unmarshal(b, &br.m)
			}
		}
		if br.m.ID == "" {
			die("could not read the manifest of the snapshot (output: %s)", br.output)
		}
		sleepOrDie(time.Duration(*after*1e9), deadline)
		br.aEnd = since()
		runs = append(runs, br)
		qLen = time.Duration(br.bEnd-br.bStart).Round(time.Second) + time.Second
	}
	recs := ld.Stop()
	samples := smp.Stop()
	nerr, firstErrs := ld.Errors()
	writeRecs(*rawOut+"ops.tsv", recs)
	writeSamples(*rawOut+"samples.tsv", samples)

	// Phase boundaries from the manifest (wall clock) and the samples.
	for i := range runs {
		br := &runs[i]
		created := time.UnixMilli(br.m.CreatedUnixMs).Sub(ld.t0).Nanoseconds()
		br.copyEnd = created + int64(br.m.CopySeconds*1e9)
		if br.copyEnd > br.bEnd || br.copyEnd < br.bStart {
			br.copyEnd = br.bStart
		}
		br.zstStart = br.bEnd
		for _, s := range samples {
			if s.T >= br.bStart && s.T <= br.bEnd && s.TmpZst {
				br.zstStart = s.T
				break
			}
		}
		if br.zstStart < br.copyEnd {
			br.zstStart = br.copyEnd
		}
	}

	in := func(a, b int64) func(Rec) bool {
		return func(r Rec) bool { return r.Kind.write() && r.Sched >= a && r.Sched < b }
	}
	anyWin := func(sel func(br backupRun) (int64, int64), write bool) func(Rec) bool {
		return func(r Rec) bool {
			if r.Kind.write() != write {
				return false
			}
			for _, br := range runs {
				a, b := sel(br)
				if r.Sched >= a && r.Sched < b {
					return true
				}
			}
			return false
		}
	}
	qSel := func(br backupRun) (int64, int64) { return br.qStart, br.qEnd }
	bSel := func(br backupRun) (int64, int64) { return br.bStart, br.bEnd }
	aSel := func(br backupRun) (int64, int64) { return br.bEnd, br.aEnd }
	cSel := func(br backupRun) (int64, int64) { return br.bStart, br.copyEnd }
	iSel := func(br backupRun) (int64, int64) { return br.copyEnd, br.zstStart }
	zSel := func(br backupRun) (int64, int64) { return br.zstStart, br.bEnd }

	fmt.Printf("### Backup during load\n\n")
	fmt.Printf("Load: %.0f writes/s + %.0f reads/s, open loop, %d connections; %d backups (`metagate backup now`), "+
		"each after a quiet window as long as the previous backup, followed by a %.0f s \"after\" window. "+
		"Latencies in ms from the scheduled time to the acknowledged COMMIT. Errors: %d.\n\n", *rate, *readRate, *workers, len(runs), *after, nerr)
	for _, e := range firstErrs {
		fmt.Printf("- error: %s\n", e)
	}
	fmt.Printf("| rep | backup s (wall) | copy s | integrity s | zstd+fsync s | raw MB | stored MB | ratio | WAL peak MB | dirty peak MB | CPU busy %% quiet → backup | writes quiet p50 / p99 / max | writes during backup p50 / p99 / max | after p50 / p99 / max |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, br := range runs {
		q := summarize(recs, in(br.qStart, br.qEnd))
		b := summarize(recs, in(br.bStart, br.bEnd))
		a := summarize(recs, in(br.bEnd, br.aEnd))
		ws := sampleStats(samples, br.bStart, br.aEnd)
		wq := sampleStats(samples, br.qStart, br.qEnd)
		wb := sampleStats(samples, br.bStart, br.bEnd)
		fmt.Printf("| %d | %.1f | %.1f | %.1f | %.1f | %.0f | %.0f | %.1f | %.0f | %.0f | %.0f → %.0f | %s / %s / %s | %s / %s / %s | %s / %s / %s |\n",
			br.rep, float64(br.bEnd-br.bStart)/1e9, br.m.CopySeconds, float64(br.zstStart-br.copyEnd)/1e9, float64(br.bEnd-br.zstStart)/1e9,
			float64(br.m.RawBytes)/1e6, float64(br.m.StoredBytes)/1e6, float64(br.m.RawBytes)/math.Max(1, float64(br.m.StoredBytes)),
			ws.walPeakMB, ws.dirtyPeakMB, wq.cpuBusy, wb.cpuBusy,
			ms(q.P50), ms(q.P99), ms(q.Max), ms(b.P50), ms(b.P99), ms(b.Max), ms(a.P50), ms(a.P99), ms(a.Max))
	}
	fmt.Printf("\nAll repetitions pooled (writes; reads in the last columns):\n\n")
	fmt.Printf("| window | writes | p50 | p99 | max | p50 vs quiet | p99 vs quiet | service p99 | checkpoints | reads p50 | reads p99 |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	qAll := summarize(recs, anyWin(qSel, true))
	for _, w := range []struct {
		name string
		sel  func(backupRun) (int64, int64)
	}{{"quiet (no backup)", qSel}, {"during backup (whole)", bSel}, {"· copy (read transaction)", cSel}, {"· integrity_check of the copy", iSel}, {"· zstd + fsync + manifest", zSel}, {"after backup", aSel}} {
		s := summarize(recs, anyWin(w.sel, true))
		rd := summarize(recs, anyWin(w.sel, false))
		var ck float64
		for _, br := range runs {
			a, b := w.sel(br)
			if c := sampleStats(samples, a, b).checkpoints; !math.IsNaN(c) {
				ck += c
			}
		}
		fmt.Printf("| %s | %d | %s | %s | %s | %s | %s | %s | %.0f | %s | %s |\n", w.name, s.N, ms(s.P50), ms(s.P99), ms(s.Max),
			ratio(s.P50, qAll.P50), ratio(s.P99, qAll.P99), ms(s.SvcP99), ck, ms(rd.P50), ms(rd.P99))
	}
	fmt.Printf("\nPer write kind, pooled (p50 / p99 ms):\n\n| kind | quiet | during backup | after |\n|---|---|---|---|\n")
	for k := kind(0); k < kReadDashboard; k++ {
		kk := k
		sel := func(s func(backupRun) (int64, int64)) Summary {
			f := anyWin(s, true)
			return summarize(recs, func(r Rec) bool { return r.Kind == kk && f(r) })
		}
		q, b, a := sel(qSel), sel(bSel), sel(aSel)
		fmt.Printf("| %s | %s / %s | %s / %s | %s / %s |\n", kindNames[k], ms(q.P50), ms(q.P99), ms(b.P50), ms(b.P99), ms(a.P50), ms(a.P99))
	}
	// The slowest writes during the backups, with what the machine was doing.
	var slow []Rec
	for _, r := range recs {
		if anyWin(bSel, true)(r) || anyWin(aSel, true)(r) {
			slow = append(slow, r)
		}
	}
	sort.Slice(slow, func(a, b int) bool { return slow[a].Lat > slow[b].Lat })
	fmt.Printf("\nSlowest writes during/after the backups (t = scheduled time from the backup's start):\n\n| rep | phase | t s | kind | latency ms | service ms | WAL MB | dirty MB | writeback MB | checkpoints ±1 s |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for i := 0; i < len(slow) && i < 12; i++ {
		r := slow[i]
		for _, br := range runs {
			if r.Sched < br.bStart || r.Sched >= br.aEnd {
				continue
			}
			phase := "after"
			switch {
			case r.Sched < br.copyEnd:
				phase = "copy"
			case r.Sched < br.zstStart:
				phase = "integrity"
			case r.Sched < br.bEnd:
				phase = "zstd"
			}
			w := sampleStats(samples, r.Sched-1e9, r.Sched+int64(r.Lat)+1e9)
			fmt.Printf("| %d | %s | %.1f | %s | %s | %s | %.0f | %.0f | %.0f | %.0f |\n", br.rep, phase, float64(r.Sched-br.bStart)/1e9, kindNames[r.Kind],
				ms(float64(r.Lat)/1e6), ms(float64(r.Svc)/1e6), w.walPeakMB, w.dirtyPeakMB, w.wbPeakMB, w.checkpoints)
		}
	}
	var slowQ []Rec
	for _, r := range recs {
		if anyWin(qSel, true)(r) {
			slowQ = append(slowQ, r)
		}
	}
	sort.Slice(slowQ, func(a, b int) bool { return slowQ[a].Lat > slowQ[b].Lat })
	fmt.Printf("\nSlowest writes in the quiet windows: ")
	for i := 0; i < len(slowQ) && i < 8; i++ {
		r := slowQ[i]
		w := sampleStats(samples, r.Sched-1e9, r.Sched+int64(r.Lat)+1e9)
		fmt.Printf("%s %s ms (ckpt ±1 s: %.0f); ", kindNames[r.Kind], ms(float64(r.Lat)/1e6), w.checkpoints)
	}
	fmt.Printf("\n\n`backup now` output:\n\n```\n")
	for _, br := range runs {
		fmt.Println(br.output)
	}
	fmt.Printf("```\n\n")
}

// ---- capture experiment -----------------------------------------------------------------------

func cmdCapture(args []string) {
	fs := flag.NewFlagSet("capture", flag.ExitOnError)
	dsnOn := fs.String("dsn-on", "", "daemon with backup.capture true")
	dsnOff := fs.String("dsn-off", "", "daemon with backup.capture false")
	mOn := fs.String("metrics-on", "", "")
	mOff := fs.String("metrics-off", "", "")
	rate := fs.Float64("rate", 20, "writes per second")
	readRate := fs.Float64("read-rate", 10, "reads per second")
	workers := fs.Int("workers", 8, "client connections")
	reps := fs.Int("reps", 3, "phases per side")
	duration := fs.Float64("duration", 60, "measured seconds per phase")
	warmup := fs.Float64("warmup", 5, "discarded seconds at the start of each phase")
	budget := fs.Float64("budget", 3600, "seconds this experiment may take")
	rawOut := fs.String("raw", "", "prefix for raw TSVs")
	fs.Parse(args)
	deadline := time.Now().Add(time.Duration(*budget * float64(time.Second)))
	ctx := context.Background()
	type phase struct {
		on               bool
		rep              int
		recs             []Rec
		errs             int
		capBytes, capTx  float64
		commits, ckpts   float64
		ckptSec, cpuBusy float64
	}
	var phases []phase
	for rep := 1; rep <= *reps; rep++ {
		order := []bool{true, false}
		if rep%2 == 0 {
			order = []bool{false, true}
		}
		for _, on := range order {
			dsn, murl := *dsnOff, *mOff
			if on {
				dsn, murl = *dsnOn, *mOn
			}
			ld, err := NewLoad(ctx, dsn, *rate, *readRate, *workers)
			if err != nil {
				die("load: %v", err)
			}
			if err := ld.Start(ctx, int64(rep*10)+map[bool]int64{true: 1, false: 2}[on]); err != nil {
				die("load: %v", err)
			}
			smp := NewSampler(murl, "", ld.t0)
			sleepOrDie(time.Duration(*warmup*1e9), deadline)
			a := time.Since(ld.t0).Nanoseconds()
			sleepOrDie(time.Duration(*duration*1e9), deadline)
			b := time.Since(ld.t0).Nanoseconds()
			recs := ld.Stop()
			ss := smp.Stop()
			nerr, _ := ld.Errors()
			var keep []Rec
			for _, r := range recs {
				if r.Sched >= a && r.Sched < b {
					keep = append(keep, r)
				}
			}
			d := func(n string) float64 { return metricAt(ss, b, n) - metricAt(ss, a, n) }
			ws := sampleStats(ss, a, b)
			p := phase{on: on, rep: rep, recs: keep, errs: nerr, capBytes: d("metagate_capture_bytes_total"), capTx: d("metagate_capture_transactions_total"),
				commits: d("metagate_sqlite_commits_total"), ckpts: d("metagate_sqlite_checkpoints_total"), ckptSec: d("metagate_sqlite_checkpoint_duration_seconds_sum"), cpuBusy: ws.cpuBusy}
			phases = append(phases, p)
			name := map[bool]string{true: "on", false: "off"}[on]
			writeRecs(fmt.Sprintf("%scapture-%s-%d-ops.tsv", *rawOut, name, rep), keep)
			writeSamples(fmt.Sprintf("%scapture-%s-%d-samples.tsv", *rawOut, name, rep), ss)
			s := summarize(keep, func(r Rec) bool { return r.Kind.write() })
			fmt.Fprintf(os.Stderr, "capture %s rep %d: %d writes p50 %s p99 %s max %s ms\n", name, rep, s.N, ms(s.P50), ms(s.P99), ms(s.Max))
			time.Sleep(2 * time.Second)
		}
	}
	fmt.Printf("### Change capture: backup.capture true vs false\n\n")
	fmt.Printf("Same load (%.0f writes/s + %.0f reads/s, %d connections) against two daemons on two copies of the same file, "+
		"one phase at a time, order on/off, off/on, ... (%d phases per side, %.0f s measured after %.0f s of warm-up each). "+
		"Latencies in ms, scheduled time → acknowledged COMMIT.\n\n", *rate, *readRate, *workers, *reps, *duration, *warmup)
	fmt.Printf("| phase | capture | writes | p50 | p99 | max | last_seen p50 | save p50 / p99 | commits | captured MB | KB / commit | checkpoints (s) | CPU busy %% | errors |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for i, p := range phases {
		s := summarize(p.recs, func(r Rec) bool { return r.Kind.write() })
		ls := summarize(p.recs, func(r Rec) bool { return r.Kind == kLastSeen })
		sv := summarize(p.recs, func(r Rec) bool { return r.Kind == kSave })
		kb := "–"
		if p.on && p.capTx > 0 {
			kb = fmt.Sprintf("%.1f", p.capBytes/1e3/p.capTx)
		}
		fmt.Printf("| %d | %s | %d | %s | %s | %s | %s | %s / %s | %.0f | %.1f | %s | %.0f (%.2f) | %.0f | %d |\n", i+1, map[bool]string{true: "on", false: "off"}[p.on], s.N,
			ms(s.P50), ms(s.P99), ms(s.Max), ms(ls.P50), ms(sv.P50), ms(sv.P99), p.commits, p.capBytes/1e6, kb, p.ckpts, p.ckptSec, p.cpuBusy, p.errs)
	}
	pool := func(on bool, keep func(Rec) bool) Summary {
		var all []Rec
		for _, p := range phases {
			if p.on == on {
				all = append(all, p.recs...)
			}
		}
		return summarize(all, keep)
	}
	fmt.Printf("\nPooled (p50 / p99 / max ms; service time p50 in the last column):\n\n| kind | capture off | capture on | p50 on/off | p99 on/off | service p50 off → on |\n|---|---|---|---|---|---|\n")
	rows := []struct {
		name string
		f    func(Rec) bool
	}{{"all writes", func(r Rec) bool { return r.Kind.write() }}}
	for k := kind(0); k < nKinds; k++ {
		kk := k
		rows = append(rows, struct {
			name string
			f    func(Rec) bool
		}{kindNames[k], func(r Rec) bool { return r.Kind == kk }})
	}
	for _, row := range rows {
		off, on := pool(false, row.f), pool(true, row.f)
		fmt.Printf("| %s | %s / %s / %s | %s / %s / %s | %s | %s | %s → %s |\n", row.name, ms(off.P50), ms(off.P99), ms(off.Max), ms(on.P50), ms(on.P99), ms(on.Max),
			ratio(on.P50, off.P50), ratio(on.P99, off.P99), ms(off.SvcP50), ms(on.SvcP50))
	}
	fmt.Println()
}
