package main

// seed: bulk-loads a Grafana-shaped database through metagate until the SQLite file (plus its
// WAL) reaches --bytes. Everything goes through lib/pq as multi-row INSERTs inside
// transactions, with the column lists Grafana's xorm uses (runtime-queries.sql).
//
// Shape (per batch of 20 dashboards, repeated until the size is reached):
//   dashboard        JSON `data` 10–200 KB (log-uniform), panels with Prometheus targets,
//                    field configs, thresholds, templating: repetitive like real dashboards
//                    (zstd compresses it ~5–10×) but with varying names and numbers
//   dashboard_version 2–10 versions per dashboard, each a slightly edited copy
//   dashboard_tag    0–4 per dashboard; star: a few per dashboard
//   annotation       100 per dashboard (alert state changes and manual notes over 30 days)
// Once, before the dashboards: 3 orgs, 2000 users (+ org_user, preferences, 3000 session
// tokens), 60 teams (+ members), 25 data sources, 200 API keys, 80 folders (dashboard rows and
// folder rows), 500 alert rules (+ 3 versions each, 4 alert instances each).

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand"
	"os"
	"strings"
	"time"
)

const tsLayout = "2006-01-02 15:04:05"

var (
	words = strings.Fields(`api gateway checkout payment auth login cart search catalog inventory shipping
		billing invoice user session cache redis postgres mysql kafka queue worker scheduler cron backup
		ingress nginx envoy istio node kubelet pod container cluster etcd dns ntp disk memory cpu network
		latency errors saturation traffic availability slo budget burn rate p99 p95 median throughput
		frontend backend edge site factory line plc sensor temperature pressure vibration humidity power`)
	metrics = []string{"http_requests_total", "http_request_duration_seconds_bucket", "node_cpu_seconds_total",
		"node_memory_MemAvailable_bytes", "node_filesystem_avail_bytes", "container_cpu_usage_seconds_total",
		"container_memory_working_set_bytes", "kube_pod_status_ready", "up", "process_resident_memory_bytes",
		"go_goroutines", "grpc_server_handled_total", "kafka_consumergroup_lag", "pg_stat_database_xact_commit",
		"redis_connected_clients", "nginx_ingress_controller_requests", "probe_success", "modbus_register_value",
		"sensor_temperature_celsius", "plc_cycle_time_seconds"}
	panelTypes = []string{"timeseries", "timeseries", "timeseries", "stat", "gauge", "table", "bargauge", "heatmap", "piechart", "text"}
	units      = []string{"reqps", "s", "ms", "bytes", "percent", "percentunit", "short", "ops", "celsius", "none"}
	colors     = []string{"green", "red", "yellow", "orange", "blue", "purple", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42"}
	tagTerms   = []string{"production", "staging", "edge", "k8s", "database", "network", "slo", "team-a", "team-b", "ops", "iot", "factory"}
)

func word(r *rand.Rand) string { return words[r.Intn(len(words))] }

func phrase(r *rand.Rand, n int) string {
	ws := make([]string, n)
	for i := range ws {
		ws[i] = word(r)
	}
	return strings.Join(ws, " ")
}

func randHex(r *rand.Rand, n int) string {
	const hx = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = hx[r.Intn(16)]
	}
	return string(b)
}

func randUID(r *rand.Rand) string {
	const al = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 14)
	for i := range b {
		b[i] = al[r.Intn(len(al))]
	}
	return string(b)
}

// panelJSON writes one panel (about 1–3 KB).
func panelJSON(b *strings.Builder, r *rand.Rand, id, y int, dsUID string) {
	typ := panelTypes[r.Intn(len(panelTypes))]
	w := []int{6, 8, 12, 24}[r.Intn(4)]
	fmt.Fprintf(b, `{"id":%d,"type":"%s","title":"%s","description":"%s","gridPos":{"h":%d,"w":%d,"x":%d,"y":%d},`,
		id, typ, strings.Title(phrase(r, 2+r.Intn(3))), phrase(r, r.Intn(12)), 4+r.Intn(6), w, (id*w)%24, y)
	fmt.Fprintf(b, `"datasource":{"type":"prometheus","uid":"%s"},"targets":[`, dsUID)
	nt := 1 + r.Intn(4)
	for t := 0; t < nt; t++ {
		if t > 0 {
			b.WriteByte(',')
		}
		m := metrics[r.Intn(len(metrics))]
		fmt.Fprintf(b, `{"refId":"%c","datasource":{"type":"prometheus","uid":"%s"},"editorMode":"code","expr":"sum(rate(%s{job=\"$job\",instance=~\"$instance\",%s=~\"%s.*\"}[$__rate_interval])) by (%s)","legendFormat":"{{%s}} %s","range":true,"interval":"%ds","hide":false}`,
			'A'+t, dsUID, m, word(r), word(r), word(r), word(r), word(r), 10+r.Intn(50))
	}
	fmt.Fprintf(b, `],"fieldConfig":{"defaults":{"unit":"%s","decimals":%d,"min":0,"color":{"mode":"palette-classic"},`,
		units[r.Intn(len(units))], r.Intn(4))
	fmt.Fprintf(b, `"custom":{"drawStyle":"line","lineInterpolation":"linear","lineWidth":%d,"fillOpacity":%d,"gradientMode":"none","showPoints":"never","pointSize":5,"spanNulls":false,"axisPlacement":"auto","axisLabel":"","scaleDistribution":{"type":"linear"},"stacking":{"mode":"none","group":"A"},"thresholdsStyle":{"mode":"off"},"hideFrom":{"legend":false,"tooltip":false,"viz":false}},`,
		1+r.Intn(3), r.Intn(40))
	fmt.Fprintf(b, `"thresholds":{"mode":"absolute","steps":[{"color":"green","value":null},{"color":"%s","value":%d},{"color":"red","value":%d}]},"mappings":[]},"overrides":[`,
		colors[r.Intn(len(colors))], 50+r.Intn(30), 80+r.Intn(200))
	no := r.Intn(3)
	for o := 0; o < no; o++ {
		if o > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(b, `{"matcher":{"id":"byName","options":"%s"},"properties":[{"id":"color","value":{"fixedColor":"%s","mode":"fixed"}},{"id":"custom.lineWidth","value":%d}]}`,
			word(r), colors[r.Intn(len(colors))], 1+r.Intn(4))
	}
	fmt.Fprintf(b, `]},"options":{"legend":{"displayMode":"%s","placement":"bottom","showLegend":true,"calcs":["mean","max","lastNotNull"]},"tooltip":{"mode":"multi","sort":"desc"},"reduceOptions":{"values":false,"calcs":["lastNotNull"],"fields":""}},"pluginVersion":"11.0.0"}`,
		[]string{"list", "table", "hidden"}[r.Intn(3)])
}

// dashboard is one generated dashboard: its panels are kept as JSON fragments so that each
// version is a cheap edit of the previous one.
type dashboard struct {
	uid, title, slug string
	folderID         int64
	folderUID        string
	panels           []string
	head             string // templating, annotations, links...
	dsUID            string
}

func newDashboard(r *rand.Rand, n int, size int, folderID int64, folderUID, dsUID string) *dashboard {
	d := &dashboard{uid: randUID(r), folderID: folderID, folderUID: folderUID, dsUID: dsUID}
	d.title = fmt.Sprintf("%s %d", strings.Title(phrase(r, 3)), n)
	d.slug = strings.ReplaceAll(strings.ToLower(d.title), " ", "-")
	var h strings.Builder
	fmt.Fprintf(&h, `"annotations":{"list":[{"builtIn":1,"datasource":{"type":"grafana","uid":"-- Grafana --"},"enable":true,"hide":true,"iconColor":"rgba(0, 211, 255, 1)","name":"Annotations & Alerts","type":"dashboard"}]},"editable":true,"fiscalYearStartMonth":0,"graphTooltip":1,"links":[],"liveNow":false,`)
	fmt.Fprintf(&h, `"templating":{"list":[`)
	for i, v := range []string{"job", "instance", word(r)} {
		if i > 0 {
			h.WriteByte(',')
		}
		fmt.Fprintf(&h, `{"name":"%s","type":"query","datasource":{"type":"prometheus","uid":"%s"},"definition":"label_values(%s, %s)","query":{"query":"label_values(%s, %s)","refId":"PrometheusVariableQueryEditor-VariableQuery"},"refresh":1,"includeAll":true,"multi":true,"current":{"selected":true,"text":["All"],"value":["$__all"]},"sort":1}`,
			v, dsUID, metrics[r.Intn(len(metrics))], v, metrics[r.Intn(len(metrics))], v)
	}
	fmt.Fprintf(&h, `]},"time":{"from":"now-6h","to":"now"},"timepicker":{},"timezone":"browser","refresh":"30s","schemaVersion":39,"tags":["%s","%s"],`,
		tagTerms[r.Intn(len(tagTerms))], tagTerms[r.Intn(len(tagTerms))])
	d.head = h.String()
	total := len(d.head) + 200
	for i := 1; total < size; i++ {
		var b strings.Builder
		panelJSON(&b, r, i, (i/2)*8, dsUID)
		d.panels = append(d.panels, b.String())
		total += b.Len() + 1
	}
	return d
}

// edit changes a version the way a user does: a panel or two rewritten, sometimes one added.
func (d *dashboard) edit(r *rand.Rand) {
	for k := 0; k < 1+r.Intn(2) && len(d.panels) > 0; k++ {
		i := r.Intn(len(d.panels))
		var b strings.Builder
		panelJSON(&b, r, i+1, (i/2)*8, d.dsUID)
		d.panels[i] = b.String()
	}
	if r.Intn(4) == 0 {
		var b strings.Builder
		panelJSON(&b, r, len(d.panels)+1, (len(d.panels)/2)*8, d.dsUID)
		d.panels = append(d.panels, b.String())
	}
}

// json renders the dashboard model. The description's length varies, so every save changes
// the row's size (SQLite would otherwise overwrite an equal-sized row in place, page by page).
func (d *dashboard) json(r *rand.Rand, id int64, version int) string {
	var b strings.Builder
	b.Grow(64 << 10)
	fmt.Fprintf(&b, `{%s"description":"%s","panels":[`, d.head, phrase(r, 3+r.Intn(40)))
	b.WriteString(strings.Join(d.panels, ","))
	fmt.Fprintf(&b, `],"id":%d,"title":"%s","uid":"%s","version":%d,"weekStart":""}`, id, d.title, d.uid, version)
	return b.String()
}

// multiInsert runs INSERT INTO table (cols) VALUES (...),(...)... for rows, in chunks that stay
// under maxParams parameters and maxBytes of string data; with returning, it collects the
// first returned column (int64) of every row in order.
func multiInsert(ctx context.Context, q interface {
	ExecContext(context.Context, string, ...interface{}) (sql.Result, error)
	QueryContext(context.Context, string, ...interface{}) (*sql.Rows, error)
}, table string, cols []string, rows [][]interface{}, returning string, maxBytes int) ([]int64, error) {
	var ids []int64
	const maxParams = 30000
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = `"` + c + `"`
	}
	head := fmt.Sprintf(`INSERT INTO "%s" (%s) VALUES `, table, strings.Join(quoted, ","))
	for start := 0; start < len(rows); {
		var sb strings.Builder
		sb.WriteString(head)
		var args []interface{}
		bytes := 0
		end := start
		for end < len(rows) && len(args)+len(cols) <= maxParams && (end == start || bytes < maxBytes) {
			if end > start {
				sb.WriteByte(',')
			}
			sb.WriteByte('(')
			for j, v := range rows[end] {
				if j > 0 {
					sb.WriteByte(',')
				}
				args = append(args, v)
				fmt.Fprintf(&sb, "$%d", len(args))
				if s, ok := v.(string); ok {
					bytes += len(s)
				}
			}
			sb.WriteByte(')')
			end++
		}
		if returning != "" {
			sb.WriteString(` RETURNING "` + returning + `"`)
			rs, err := q.QueryContext(ctx, sb.String(), args...)
			if err != nil {
				return nil, fmt.Errorf("insert into %s: %w", table, err)
			}
			for rs.Next() {
				var id int64
				if err := rs.Scan(&id); err != nil {
					rs.Close()
					return nil, err
				}
				ids = append(ids, id)
			}
			if err := rs.Err(); err != nil {
				rs.Close()
				return nil, fmt.Errorf("insert into %s: %w", table, err)
			}
			rs.Close()
		} else if _, err := q.ExecContext(ctx, sb.String(), args...); err != nil {
			return nil, fmt.Errorf("insert into %s: %w", table, err)
		}
		start = end
	}
	return ids, nil
}

type seedStats struct {
	dashboards, versions, annotations, tags, stars int
	dataBytes                                      int64
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

// cmdSeed: see the top of this file.
func runSeed(dsn, dbFile string, target int64, seed int64) error {
	ctx := context.Background()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(2)
	r := rand.New(rand.NewSource(seed))
	now := time.Now().UTC()
	ts := func(t time.Time) string { return t.Format(tsLayout) }
	ago := func(maxDays int) time.Time { return now.Add(-time.Duration(r.Int63n(int64(maxDays) * 86400 * 1e9))) }
	t0 := time.Now()

	inTx := func(f func(tx *sql.Tx) error) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := f(tx); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	}

	// --- the small tables.
	const nOrgs, nUsers, nTokens, nTeams, nDS, nKeys, nFolders, nRules = 3, 2000, 3000, 60, 25, 200, 80, 500
	var dsUIDs []string
	var folderIDs []int64
	var folderUIDs []string
	var userIDs []int64
	err = inTx(func(tx *sql.Tx) error {
		var rows [][]interface{}
		for o := 1; o <= nOrgs; o++ {
			name := "Main Org."
			if o > 1 {
				name = fmt.Sprintf("Site %s %d", strings.Title(word(r)), o)
			}
			rows = append(rows, []interface{}{0, name, "", "", "", "", "", "", "", ts(ago(900)), ts(ago(30))})
		}
		if _, err := multiInsert(ctx, tx, "org", []string{"version", "name", "address1", "address2", "city", "state", "zip_code", "country", "billing_email", "created", "updated"}, rows, "id", 1<<22); err != nil {
			return err
		}
		rows = nil
		for u := 1; u <= nUsers; u++ {
			login := fmt.Sprintf("%s.%s%d", word(r), word(r), u)
			rows = append(rows, []interface{}{0, login + "@example.com", strings.Title(phrase(r, 2)), login, randHex(r, 100), randHex(r, 10), randHex(r, 10), "", false, "", 0, false, u == 1, false, 1 + (u % nOrgs), ts(ago(900)), ts(ago(60)), ts(ago(30)), randUID(r)})
		}
		ids, err := multiInsert(ctx, tx, "user", []string{"version", "email", "name", "login", "password", "salt", "rands", "company", "email_verified", "theme", "help_flags1", "is_disabled", "is_admin", "is_service_account", "org_id", "created", "updated", "last_seen_at", "uid"}, rows, "id", 1<<22)
		if err != nil {
			return err
		}
		userIDs = ids
		rows = nil
		roles := []string{"Viewer", "Viewer", "Viewer", "Editor", "Admin"}
		for i, id := range userIDs {
			rows = append(rows, []interface{}{1 + (i+1)%nOrgs, id, roles[r.Intn(len(roles))], ts(ago(900)), ts(ago(60))})
		}
		if _, err := multiInsert(ctx, tx, "org_user", []string{"org_id", "user_id", "role", "created", "updated"}, rows, "", 1<<22); err != nil {
			return err
		}
		rows = nil
		for i := 0; i < nUsers/4; i++ {
			rows = append(rows, []interface{}{1, userIDs[r.Intn(len(userIDs))], 0, 0, "browser", []string{"dark", "light", ""}[r.Intn(3)], ts(ago(300)), ts(ago(30)), 0, "", `{"navbar":{"bookmarkUrls":[]},"queryHistory":{"homeTab":""}}`})
		}
		if _, err := multiInsert(ctx, tx, "preferences", []string{"org_id", "user_id", "version", "home_dashboard_id", "timezone", "theme", "created", "updated", "team_id", "week_start", "json_data"}, rows, "", 1<<22); err != nil {
			return err
		}
		rows = nil
		for i := 0; i < nTokens; i++ {
			c := now.Unix() - r.Int63n(86400*30)
			rows = append(rows, []interface{}{userIDs[r.Intn(len(userIDs))], randHex(r, 64), randHex(r, 64), "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0 Safari/537.36", fmt.Sprintf("10.%d.%d.%d", r.Intn(256), r.Intn(256), r.Intn(256)), true, c + 600, c + 600, c, c + 600, 0})
		}
		if _, err := multiInsert(ctx, tx, "user_auth_token", []string{"user_id", "auth_token", "prev_auth_token", "user_agent", "client_ip", "auth_token_seen", "seen_at", "rotated_at", "created_at", "updated_at", "revoked_at"}, rows, "", 1<<22); err != nil {
			return err
		}
		rows = nil
		for t := 1; t <= nTeams; t++ {
			rows = append(rows, []interface{}{fmt.Sprintf("%s team %d", strings.Title(word(r)), t), 1 + t%nOrgs, ts(ago(600)), ts(ago(60)), randUID(r), ""})
		}
		teamIDs, err := multiInsert(ctx, tx, "team", []string{"name", "org_id", "created", "updated", "uid", "email"}, rows, "id", 1<<22)
		if err != nil {
			return err
		}
		rows = nil
		seen := map[[2]int64]bool{}
		for len(rows) < 1200 {
			k := [2]int64{teamIDs[r.Intn(len(teamIDs))], userIDs[r.Intn(len(userIDs))]}
			if seen[k] {
				continue
			}
			seen[k] = true
			rows = append(rows, []interface{}{1, k[0], k[1], ts(ago(600)), ts(ago(60)), false, 0})
		}
		if _, err := multiInsert(ctx, tx, "team_member", []string{"org_id", "team_id", "user_id", "created", "updated", "external", "permission"}, rows, "", 1<<22); err != nil {
			return err
		}
		rows = nil
		for i := 1; i <= nDS; i++ {
			uid := randUID(r)
			dsUIDs = append(dsUIDs, uid)
			rows = append(rows, []interface{}{1 + i%nOrgs, 1, "prometheus", fmt.Sprintf("Prometheus %s %d", word(r), i), "proxy", fmt.Sprintf("http://prometheus-%d.monitoring.svc:9090", i), "", "", "", false, "", "", i == 1, `{"httpMethod":"POST","timeInterval":"15s","prometheusType":"Prometheus","prometheusVersion":"2.50.0"}`, ts(ago(600)), ts(ago(60)), false, `{}`, false, uid})
		}
		if _, err := multiInsert(ctx, tx, "data_source", []string{"org_id", "version", "type", "name", "access", "url", "password", "user", "database", "basic_auth", "basic_auth_user", "basic_auth_password", "is_default", "json_data", "created", "updated", "with_credentials", "secure_json_data", "read_only", "uid"}, rows, "", 1<<22); err != nil {
			return err
		}
		rows = nil
		for i := 1; i <= nKeys; i++ {
			rows = append(rows, []interface{}{1 + i%nOrgs, fmt.Sprintf("sa-%d-%s", i, word(r)), randHex(r, 64), "Viewer", ts(ago(600)), ts(ago(60)), nil, ts(ago(2)), false})
		}
		if _, err := multiInsert(ctx, tx, "api_key", []string{"org_id", "name", "key", "role", "created", "updated", "expires", "last_used_at", "is_revoked"}, rows, "", 1<<22); err != nil {
			return err
		}
		// Folders: a dashboard row with is_folder plus the nested-folder table row.
		rows = nil
		var frows [][]interface{}
		for f := 1; f <= nFolders; f++ {
			uid := randUID(r)
			title := fmt.Sprintf("%s %d", strings.Title(phrase(r, 2)), f)
			folderUIDs = append(folderUIDs, uid)
			data := fmt.Sprintf(`{"schemaVersion":17,"title":"%s","uid":"%s","version":1}`, title, uid)
			rows = append(rows, []interface{}{uid, strings.ToLower(strings.ReplaceAll(title, " ", "-")), 1, 1, ts(ago(600)), ts(ago(60)), 1, 1, 0, "", true, false, false, title, data})
			frows = append(frows, []interface{}{uid, 1, title, "", "", ts(ago(600)), ts(ago(60))})
		}
		ids, err = multiInsert(ctx, tx, "dashboard", dashCols, rows, "id", 1<<22)
		if err != nil {
			return err
		}
		folderIDs = ids
		if _, err := multiInsert(ctx, tx, "folder", []string{"uid", "org_id", "title", "description", "parent_uid", "created", "updated"}, frows, "", 1<<22); err != nil {
			return err
		}
		// Alert rules, their versions and instances.
		rows = nil
		var vrows, irows [][]interface{}
		for i := 1; i <= nRules; i++ {
			uid := randUID(r)
			ns := folderUIDs[r.Intn(len(folderUIDs))]
			grp := fmt.Sprintf("%s-group-%d", word(r), i%40)
			data := alertRuleData(r, dsUIDs[r.Intn(len(dsUIDs))])
			title := fmt.Sprintf("%s %d", strings.Title(phrase(r, 3)), i)
			ann := fmt.Sprintf(`{"summary":"%s","description":"%s","runbook_url":"https://wiki.example.com/runbooks/%s"}`, phrase(r, 6), phrase(r, 15), word(r))
			labels := fmt.Sprintf(`{"severity":"%s","team":"%s"}`, []string{"critical", "warning", "info"}[r.Intn(3)], word(r))
			rows = append(rows, []interface{}{1, title, "C", data, ts(ago(30)), 60, 3, uid, ns, grp, i % 10, "NoData", "Error", 300, ann, labels, "", 0, false, ""})
			for v := 1; v <= 3; v++ {
				vrows = append(vrows, []interface{}{1, uid, ns, grp, v - 1, 0, v, ts(ago(60)), title, "C", data, 60, "NoData", "Error", 300, ann, labels, i % 10, false, ""})
			}
			for k := 0; k < 4; k++ {
				l := fmt.Sprintf(`[["__alert_rule_uid__","%s"],["instance","10.0.%d.%d:9100"],["job","node"]]`, uid, r.Intn(256), k)
				irows = append(irows, []interface{}{1, uid, l, randHex(r, 40), "Normal", "", now.Unix() - 3600, 0, now.Unix() - 10})
			}
		}
		if _, err := multiInsert(ctx, tx, "alert_rule", []string{"org_id", "title", "condition", "data", "updated", "interval_seconds", "version", "uid", "namespace_uid", "rule_group", "rule_group_idx", "no_data_state", "exec_err_state", "for", "annotations", "labels", "dashboard_uid", "panel_id", "is_paused", "notification_settings"}, rows, "", 1<<22); err != nil {
			return err
		}
		if _, err := multiInsert(ctx, tx, "alert_rule_version", []string{"rule_org_id", "rule_uid", "rule_namespace_uid", "rule_group", "parent_version", "restored_from", "version", "created", "title", "condition", "data", "interval_seconds", "no_data_state", "exec_err_state", "for", "annotations", "labels", "rule_group_idx", "is_paused", "notification_settings"}, vrows, "", 1<<22); err != nil {
			return err
		}
		_, err = multiInsert(ctx, tx, "alert_instance", []string{"rule_org_id", "rule_uid", "labels", "labels_hash", "current_state", "current_reason", "current_state_since", "current_state_end", "last_eval_time"}, irows, "", 1<<22)
		return err
	})
	if err != nil {
		return fmt.Errorf("small tables: %w", err)
	}
	fmt.Printf("seed: small tables done in %.1f s\n", time.Since(t0).Seconds())

	// --- dashboards, versions, tags, stars, annotations, in batches until the file is big enough.
	// Generation runs one batch ahead of the inserts.
	type batch struct {
		dash  [][]interface{} // dashboard rows
		vers  [][][]interface{}
		tags  [][]string
		n     int
		bytes int64
	}
	const perBatch = 20
	gen := make(chan *batch, 2)
	stop := make(chan struct{})
	go func() {
		gr := rand.New(rand.NewSource(seed + 1))
		n := 0
		for {
			b := &batch{}
			for i := 0; i < perBatch; i++ {
				n++
				size := int(math.Exp(math.Log(10e3) + gr.Float64()*(math.Log(200e3)-math.Log(10e3))))
				fi := gr.Intn(len(folderIDs) + 10) // a few in the General folder
				var fid int64
				fuid := ""
				if fi < len(folderIDs) {
					fid, fuid = folderIDs[fi], folderUIDs[fi]
				}
				d := newDashboard(gr, n, size, fid, fuid, dsUIDs[gr.Intn(len(dsUIDs))])
				nv := 2 + gr.Intn(9)
				var vs [][]interface{}
				created := now.Add(-time.Duration(400+gr.Intn(400)) * 24 * time.Hour)
				var data string
				for v := 1; v <= nv; v++ {
					if v > 1 {
						d.edit(gr)
					}
					when := created.Add(time.Duration(v) * time.Duration(1+gr.Intn(20)) * 24 * time.Hour)
					data = d.json(gr, 0, v) // id 0: the real id is not known yet (Grafana stores it, harmless here)
					msg := ""
					if gr.Intn(3) == 0 {
						msg = phrase(gr, 4)
					}
					vs = append(vs, []interface{}{v - 1, 0, v, when.Format(tsLayout), 1 + gr.Intn(nUsers), msg, data})
					b.bytes += int64(len(data))
				}
				b.dash = append(b.dash, []interface{}{d.uid, d.slug, 1, nv, created.Format(tsLayout), now.Add(-time.Duration(gr.Intn(30*86400)) * time.Second).Format(tsLayout), 1 + gr.Intn(nUsers), 1 + gr.Intn(nUsers), fid, fuid, false, false, false, d.title, data})
				b.bytes += int64(len(data))
				b.vers = append(b.vers, vs)
				var tg []string
				for k := gr.Intn(5); k > 0; k-- {
					tg = append(tg, tagTerms[gr.Intn(len(tagTerms))])
				}
				b.tags = append(b.tags, tg)
			}
			b.n = n
			select {
			case gen <- b:
			case <-stop:
				return
			}
		}
	}()
	defer close(stop)

	var st seedStats
	annTypes := []string{"alert", "annotation"}
	states := []string{"Normal", "Alerting", "Pending", "NoData", "Normal (MissingSeries)"}
	lastReport := time.Now()
	// Versions are written a few batches after their dashboard, in shuffled order, as if they
	// had been saved over time: a dashboard's versions do not sit next to each other in the
	// file (zstd's window would otherwise find every version as a near-copy of the previous one,
	// and the snapshot would compress far better than a real database).
	const versionSpread = 8
	pending := map[int][][]interface{}{}
	batchNo := 0
	// The database file lags behind by at most one checkpoint interval (the WAL is checkpointed
	// at 64 MiB and then reused from its start, so its file size says nothing once it wrapped):
	// stop 40 MB short of the target on the file alone; what the WAL still holds makes up for it.
	for first := true; ; first = false {
		if !first && fileSize(dbFile) >= target-40_000_000 {
			break
		}
		b := <-gen
		batchNo++
		err := inTx(func(tx *sql.Tx) error {
			ids, err := multiInsert(ctx, tx, "dashboard", dashCols, b.dash, "id", 4<<20)
			if err != nil {
				return err
			}
			if len(ids) != len(b.dash) {
				return fmt.Errorf("dashboard insert returned %d ids for %d rows", len(ids), len(b.dash))
			}
			var vrows, trows, srows, arows [][]interface{}
			for i, id := range ids {
				for _, v := range b.vers[i] {
					row := append([]interface{}{id}, v...)
					due := batchNo + r.Intn(versionSpread)
					pending[due] = append(pending[due], row)
				}
				for _, t := range b.tags[i] {
					trows = append(trows, []interface{}{id, t})
				}
				for k := r.Intn(6); k > 0; k-- {
					srows = append(srows, []interface{}{userIDs[r.Intn(len(userIDs))], id})
				}
				for k := 0; k < 100; k++ {
					ep := now.UnixMilli() - r.Int63n(30*86400*1000)
					typ := annTypes[r.Intn(2)]
					var title, text, prev, next, data string
					var alertID int64
					if typ == "alert" {
						prev, next = states[r.Intn(len(states))], states[r.Intn(len(states))]
						text = fmt.Sprintf("%s: %s", strings.Title(phrase(r, 3)), phrase(r, 5+r.Intn(10)))
						data = fmt.Sprintf(`{"values":{"B":%d.%d,"C":%d},"evalMatches":null}`, r.Intn(1000), r.Intn(100), r.Intn(2))
						alertID = int64(1 + r.Intn(nRules))
					} else {
						text = fmt.Sprintf("Deployed %s v%d.%d.%d: %s", word(r), r.Intn(5), r.Intn(30), r.Intn(100), phrase(r, 3+r.Intn(20)))
						data = "{}"
					}
					end := ep
					if r.Intn(5) == 0 {
						end = ep + r.Int63n(3600*1000)
					}
					arows = append(arows, []interface{}{1, alertID, 1 + r.Intn(nUsers), id, 1 + r.Intn(20), typ, title, text, "", prev, next, data, ep, 0, "", ep, ep, end})
				}
			}
			vrows = pending[batchNo]
			delete(pending, batchNo)
			r.Shuffle(len(vrows), func(a, b int) { vrows[a], vrows[b] = vrows[b], vrows[a] })
			if len(vrows) > 0 {
				if _, err := multiInsert(ctx, tx, "dashboard_version", versionCols, vrows, "", 4<<20); err != nil {
					return err
				}
			}
			if len(trows) > 0 {
				if _, err := multiInsert(ctx, tx, "dashboard_tag", []string{"dashboard_id", "term"}, trows, "", 1<<22); err != nil {
					return err
				}
			}
			if len(srows) > 0 {
				// (user, dashboard) pairs are unique: the dashboard is new.
				uniq := map[[2]int64]bool{}
				var rows [][]interface{}
				for _, s := range srows {
					k := [2]int64{s[0].(int64), s[1].(int64)}
					if !uniq[k] {
						uniq[k] = true
						rows = append(rows, s)
					}
				}
				if _, err := multiInsert(ctx, tx, "star", []string{"user_id", "dashboard_id"}, rows, "", 1<<22); err != nil {
					return err
				}
				st.stars += len(rows)
			}
			if _, err := multiInsert(ctx, tx, "annotation", []string{"org_id", "alert_id", "user_id", "dashboard_id", "panel_id", "type", "title", "text", "metric", "prev_state", "new_state", "data", "epoch", "region_id", "tags", "created", "updated", "epoch_end"}, arows, "", 4<<20); err != nil {
				return err
			}
			st.versions += len(vrows)
			st.tags += len(trows)
			st.annotations += len(arows)
			return nil
		})
		if err != nil {
			return fmt.Errorf("dashboard batch %d: %w", b.n, err)
		}
		st.dashboards += len(b.dash)
		st.dataBytes += b.bytes
		if time.Since(lastReport) > 15*time.Second {
			lastReport = time.Now()
			fmt.Printf("seed: %d dashboards, %d versions, %d annotations; database file %.0f MB, %.0f s\n",
				st.dashboards, st.versions, st.annotations, float64(fileSize(dbFile))/1e6, time.Since(t0).Seconds())
		}
	}
	// The versions still due.
	var rest [][]interface{}
	for _, rows := range pending {
		rest = append(rest, rows...)
	}
	r.Shuffle(len(rest), func(a, b int) { rest[a], rest[b] = rest[b], rest[a] })
	if len(rest) > 0 {
		if err := inTx(func(tx *sql.Tx) error {
			_, err := multiInsert(ctx, tx, "dashboard_version", versionCols, rest, "", 4<<20)
			return err
		}); err != nil {
			return fmt.Errorf("last dashboard versions: %w", err)
		}
		st.versions += len(rest)
	}
	fmt.Printf("seed: done in %.0f s: %d users, %d dashboards (+%d folders), %d dashboard versions, %d annotations, %d tags, %d stars, %d alert rules; dashboard JSON written %.0f MB; database file %.0f MB before the final checkpoint\n",
		time.Since(t0).Seconds(), nUsers, st.dashboards, nFolders, st.versions, st.annotations, st.tags, st.stars, nRules,
		float64(st.dataBytes)/1e6, float64(fileSize(dbFile))/1e6)
	return nil
}

var versionCols = []string{"dashboard_id", "parent_version", "restored_from", "version", "created", "created_by", "message", "data"}

var dashCols = []string{"uid", "slug", "org_id", "version", "created", "updated", "updated_by", "created_by", "folder_id", "folder_uid", "is_folder", "has_acl", "is_public", "title", "data"}

func alertRuleData(r *rand.Rand, dsUID string) string {
	m := metrics[r.Intn(len(metrics))]
	return fmt.Sprintf(`[{"refId":"A","queryType":"","relativeTimeRange":{"from":600,"to":0},"datasourceUid":"%s","model":{"editorMode":"code","expr":"sum(rate(%s{job=\"%s\"}[5m])) by (instance)","instant":true,"intervalMs":1000,"legendFormat":"__auto","maxDataPoints":43200,"range":false,"refId":"A"}},{"refId":"B","queryType":"","relativeTimeRange":{"from":0,"to":0},"datasourceUid":"__expr__","model":{"conditions":[{"evaluator":{"params":[],"type":"gt"},"operator":{"type":"and"},"query":{"params":["B"]},"reducer":{"params":[],"type":"last"},"type":"query"}],"datasource":{"type":"__expr__","uid":"__expr__"},"expression":"A","intervalMs":1000,"maxDataPoints":43200,"reducer":"last","refId":"B","type":"reduce"}},{"refId":"C","queryType":"","relativeTimeRange":{"from":0,"to":0},"datasourceUid":"__expr__","model":{"conditions":[{"evaluator":{"params":[%d],"type":"gt"},"operator":{"type":"and"},"query":{"params":["C"]},"reducer":{"params":[],"type":"last"},"type":"query"}],"datasource":{"type":"__expr__","uid":"__expr__"},"expression":"B","intervalMs":1000,"maxDataPoints":43200,"refId":"C","type":"threshold"}}]`,
		dsUID, m, word(r), r.Intn(100))
}
