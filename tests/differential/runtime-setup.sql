-- Setup for `mgdiff runtime`, run on both sides (reference and target) after the
-- Grafana 11.0.0 migrations, one statement at a time through lib/pq without
-- arguments (simple Query). Every statement's outcome is compared too.
--
-- Part 1: columns and tables that Grafana versions after 11.0 add (README §1), in the
-- DDL style Grafana's migrator emits. Part 2: a small coherent data set. Rows get
-- their ids from the SERIAL columns in insertion order (no explicit ids, so the
-- sequences stay in step with the data): the ids noted in the comments are what
-- runtime-params.json refers to.

-- ---------------------------------------------------------------- Part 1: later schema
alter table "user_auth_token" ADD COLUMN "external_session_id" BIGINT NULL ;
alter table "user" ADD COLUMN "is_provisioned" BOOL NOT NULL DEFAULT false ;
alter table "dashboard" ADD COLUMN "deleted" TIMESTAMP NULL ;
alter table "data_source" ADD COLUMN "is_prunable" BOOL NULL DEFAULT false ;
alter table "data_source" ADD COLUMN "ordinal" INTEGER NULL ;
alter table "star" ADD COLUMN "dashboard_uid" VARCHAR(40) NULL ;
alter table "star" ADD COLUMN "org_id" BIGINT NULL DEFAULT 1 ;
alter table "star" ADD COLUMN "updated" TIMESTAMP NULL ;
alter table "alert_configuration" ADD COLUMN "successfully_applied" BOOL NOT NULL DEFAULT false ;
CREATE TABLE IF NOT EXISTS "user_stats" (
"id" SERIAL PRIMARY KEY  NOT NULL
, "user_id" BIGINT NOT NULL
, "billing_role" VARCHAR(40) NULL
, "created" TIMESTAMP NOT NULL
, "updated" TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX "UQE_user_stats_user_id" ON "user_stats" ("user_id");
CREATE TABLE IF NOT EXISTS "resource" (
"guid" VARCHAR(36) PRIMARY KEY NOT NULL
, "resource_version" BIGINT NULL
, "group" VARCHAR(190) NOT NULL
, "resource" VARCHAR(190) NOT NULL
, "namespace" VARCHAR(63) NULL
, "name" VARCHAR(253) NOT NULL
, "value" TEXT NULL
, "action" INTEGER NOT NULL
, "label_set" VARCHAR(64) NULL
, "previous_resource_version" BIGINT NULL
, "folder" VARCHAR(253) NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX "UQE_resource_namespace_group_resource_name" ON "resource" ("namespace","group","resource","name");
CREATE TABLE IF NOT EXISTS "resource_history" (
"guid" VARCHAR(36) PRIMARY KEY NOT NULL
, "resource_version" BIGINT NULL
, "group" VARCHAR(190) NOT NULL
, "resource" VARCHAR(190) NOT NULL
, "namespace" VARCHAR(63) NULL
, "name" VARCHAR(253) NOT NULL
, "value" TEXT NULL
, "action" INTEGER NOT NULL
, "label_set" VARCHAR(64) NULL
, "previous_resource_version" BIGINT NULL
, "folder" VARCHAR(253) NOT NULL DEFAULT ''
);
CREATE INDEX "IDX_resource_history_resource_version" ON "resource_history" ("resource_version");
CREATE TABLE IF NOT EXISTS "resource_version" (
"group" VARCHAR(190) NOT NULL
, "resource" VARCHAR(190) NOT NULL
, "resource_version" BIGINT NOT NULL
, "shard" INTEGER NOT NULL DEFAULT 0
, PRIMARY KEY ( "group","resource" )
);
-- [2.3] template-era fixture queries read "test_schema"."user" / "org_user" / "org".
CREATE SCHEMA IF NOT EXISTS "test_schema";
CREATE TABLE IF NOT EXISTS "test_schema"."org" (
"id" SERIAL PRIMARY KEY  NOT NULL
, "version" INTEGER NOT NULL
, "name" VARCHAR(190) NOT NULL
, "created" TIMESTAMP NOT NULL
, "updated" TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS "test_schema"."org_user" (
"id" SERIAL PRIMARY KEY  NOT NULL
, "org_id" BIGINT NOT NULL
, "user_id" BIGINT NOT NULL
, "role" VARCHAR(20) NOT NULL
, "created" TIMESTAMP NOT NULL
, "updated" TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS "test_schema"."user" (
"id" SERIAL PRIMARY KEY  NOT NULL
, "version" INTEGER NOT NULL
, "login" VARCHAR(190) NOT NULL
, "email" VARCHAR(190) NOT NULL
, "name" VARCHAR(255) NULL
, "org_id" BIGINT NOT NULL
, "is_admin" BOOL NOT NULL
, "email_verified" BOOL NULL
, "created" TIMESTAMP NOT NULL
, "updated" TIMESTAMP NOT NULL
, "help_flags1" BIGINT NOT NULL DEFAULT 0
, "last_seen_at" TIMESTAMP NULL
, "is_disabled" BOOL NOT NULL DEFAULT false
, "is_service_account" BOOL NULL DEFAULT false
, "uid" VARCHAR(40) NULL
);

-- ---------------------------------------------------------------- Part 2: sample data
-- orgs: 1 Main Org., 2 Second Org, 3 Third Org
INSERT INTO "org" ("version","name","address1","address2","city","state","zip_code","country","billing_email","created","updated") VALUES (0, 'Main Org.', '', '', '', '', '', '', NULL, '2024-05-30 11:34:31', '2024-05-30 11:34:31');
INSERT INTO "org" ("version","name","address1","address2","city","state","zip_code","country","billing_email","created","updated") VALUES (0, 'Second Org', '', '', '', '', '', '', NULL, '2024-05-30 11:35:00', '2024-05-30 11:35:00');
INSERT INTO "org" ("version","name","address1","address2","city","state","zip_code","country","billing_email","created","updated") VALUES (1, 'Third Org', 'Street 1', NULL, 'Berlin', NULL, '10115', 'DE', 'billing@example.com', '2024-05-30 11:36:00', '2024-05-30 12:00:00');
-- users: 1 admin, 2 alice, 3 bob (disabled, oauth), 4 service account sa-1-ci, 5 carol (never seen)
INSERT INTO "user" ("version","email","name","login","password","salt","rands","company","org_id","is_admin","email_verified","theme","created","updated","help_flags1","last_seen_at","is_disabled","is_service_account","uid") VALUES (0, 'admin@localhost', '', 'admin', 'a2b3c4d5e6f7', 'salt0001', 'rands0001', '', 1, true, false, '', '2024-05-30 11:34:31', '2024-05-30 11:34:31', 0, '2024-05-30 11:40:02', false, false, 'u000000001');
INSERT INTO "user" ("version","email","name","login","password","salt","rands","company","org_id","is_admin","email_verified","theme","created","updated","help_flags1","last_seen_at","is_disabled","is_service_account","uid") VALUES (0, 'alice@example.com', 'Alice Liddell', 'alice', 'f00dcafe', 'salt0002', 'rands0002', 'Wonderland', 1, false, true, 'dark', '2024-05-30 11:50:00', '2024-05-30 11:50:00', 3, '2024-05-29 08:00:00', false, false, 'u000000002');
INSERT INTO "user" ("version","email","name","login","password","salt","rands","company","org_id","is_admin","email_verified","theme","created","updated","help_flags1","last_seen_at","is_disabled","is_service_account","uid") VALUES (2, 'bob@ops.example.com', 'Bob Ops', 'bob', 'beefbeef', 'salt0003', 'rands0003', NULL, 1, true, true, 'light', '2024-05-01 09:00:00', '2024-05-20 10:00:00', 0, '2024-04-01 10:00:00.123456', true, false, 'u000000003');
INSERT INTO "user" ("version","email","name","login","password","salt","rands","company","org_id","is_admin","email_verified","theme","created","updated","help_flags1","last_seen_at","is_disabled","is_service_account","uid") VALUES (0, 'sa-1-ci', 'ci', 'sa-1-ci', '', '', '', '', 1, false, false, '', '2024-05-30 12:00:00', '2024-05-30 12:00:00', 0, '2024-05-30 12:00:00', false, true, 'u000000004');
INSERT INTO "user" ("version","email","name","login","password","salt","rands","company","org_id","is_admin","email_verified","theme","created","updated","help_flags1","last_seen_at","is_disabled","is_service_account","uid") VALUES (0, 'carol@example.com', 'Carol', 'Carol', 'c0c0c0', 'salt0005', 'rands0005', '', 2, false, NULL, '', '2024-05-30 12:30:00', '2024-05-30 12:30:00', 0, NULL, false, false, 'u000000005');
INSERT INTO "org_user" ("org_id","user_id","role","created","updated") VALUES (1, 1, 'Admin', '2024-05-30 11:34:31', '2024-05-30 11:34:31');
INSERT INTO "org_user" ("org_id","user_id","role","created","updated") VALUES (1, 2, 'Editor', '2024-05-30 11:50:00', '2024-05-30 11:50:00');
INSERT INTO "org_user" ("org_id","user_id","role","created","updated") VALUES (1, 3, 'Viewer', '2024-05-01 09:00:00', '2024-05-01 09:00:00');
INSERT INTO "org_user" ("org_id","user_id","role","created","updated") VALUES (1, 4, 'Viewer', '2024-05-30 12:00:00', '2024-05-30 12:00:00');
INSERT INTO "org_user" ("org_id","user_id","role","created","updated") VALUES (2, 1, 'Admin', '2024-05-30 11:35:00', '2024-05-30 11:35:00');
INSERT INTO "org_user" ("org_id","user_id","role","created","updated") VALUES (2, 2, 'Admin', '2024-05-30 11:35:00', '2024-05-30 11:35:00');
INSERT INTO "org_user" ("org_id","user_id","role","created","updated") VALUES (2, 5, 'Editor', '2024-05-30 12:30:00', '2024-05-30 12:30:00');
INSERT INTO "user_auth" ("user_id","auth_module","auth_id","created") VALUES (2, 'oauth_generic_oauth', 'alice-ext-id', '2024-05-30 11:50:00');
INSERT INTO "user_auth" ("user_id","auth_module","auth_id","created") VALUES (3, 'ldap', 'bob-ldap', '2024-05-01 09:00:00');
INSERT INTO "user_auth" ("user_id","auth_module","auth_id","created") VALUES (3, 'oauth', 'bob-ext-id', '2024-05-02 09:00:00');
INSERT INTO "user_stats" ("user_id","billing_role","created","updated") VALUES (1, 'admin', '2024-05-30 11:34:31', '2024-05-30 11:34:31');
INSERT INTO "user_stats" ("user_id","billing_role","created","updated") VALUES (2, 'viewer', '2024-05-30 11:50:00', '2024-05-30 11:50:00');
INSERT INTO "user_stats" ("user_id","billing_role","created","updated") VALUES (3, 'editor', '2024-05-01 09:00:00', '2024-05-01 09:00:00');
-- session tokens: 1 admin, 2 alice (seen), 3 bob (old, revoked)
INSERT INTO "user_auth_token" ("user_id","auth_token","prev_auth_token","user_agent","client_ip","auth_token_seen","seen_at","rotated_at","created_at","updated_at","revoked_at","external_session_id") VALUES (1, 'tok-admin-1', 'tok-admin-0', 'Mozilla/5.0 (X11; Linux x86_64)', '127.0.0.1', false, 0, 1717061670, 1717061670, 1717061670, 0, NULL);
INSERT INTO "user_auth_token" ("user_id","auth_token","prev_auth_token","user_agent","client_ip","auth_token_seen","seen_at","rotated_at","created_at","updated_at","revoked_at","external_session_id") VALUES (2, 'tok-alice-1', 'tok-alice-0', 'curl/8.0', '10.0.0.2', true, 1717061700, 1717061600, 1717000000, 1717061700, 0, 77);
INSERT INTO "user_auth_token" ("user_id","auth_token","prev_auth_token","user_agent","client_ip","auth_token_seen","seen_at","rotated_at","created_at","updated_at","revoked_at","external_session_id") VALUES (3, 'tok-bob-1', 'tok-bob-0', 'Mozilla/5.0', '10.0.0.3', true, 1714000000, 1714000000, 1714000000, 1714000000, 1714500000, NULL);
INSERT INTO "login_attempt" ("username","ip_address","created") VALUES ('admin', '127.0.0.1', 1717061000);
-- teams: 1 ops
INSERT INTO "team" ("name","org_id","created","updated","uid","email") VALUES ('ops', 1, '2024-05-30 11:40:00', '2024-05-30 11:40:00', 'team-ops', 'ops@example.com');
INSERT INTO "team_member" ("org_id","team_id","user_id","created","updated","external","permission") VALUES (1, 1, 2, '2024-05-30 11:40:00', '2024-05-30 11:40:00', false, 0);
-- dashboards: 1 folder Team A (fdr1), 2 folder Team B (fdr2, in fdr1), 3 folder Team C (fdr3, in fdr2),
-- 4 Memory (root), 5 CPU usage (adsf9k2, in fdr1), 6 my-dash (in fdr3), 7 Other org dash (org 2), 8 to-delete (in fdr2)
INSERT INTO "dashboard" ("version","slug","title","data","org_id","created","updated","updated_by","created_by","gnet_id","plugin_id","folder_id","is_folder","has_acl","uid","is_public","folder_uid") VALUES (1, 'team-a', 'Team A', '{"title":"Team A"}', 1, '2024-05-30 11:41:00', '2024-05-30 11:41:00', 1, 1, 0, '', 0, true, false, 'fdr1', false, NULL);
INSERT INTO "dashboard" ("version","slug","title","data","org_id","created","updated","updated_by","created_by","gnet_id","plugin_id","folder_id","is_folder","has_acl","uid","is_public","folder_uid") VALUES (1, 'team-b', 'Team B', '{"title":"Team B"}', 1, '2024-05-30 11:42:00', '2024-05-30 11:42:00', 1, 1, 0, '', 1, true, false, 'fdr2', false, 'fdr1');
INSERT INTO "dashboard" ("version","slug","title","data","org_id","created","updated","updated_by","created_by","gnet_id","plugin_id","folder_id","is_folder","has_acl","uid","is_public","folder_uid") VALUES (1, 'team-c', 'Team C', '{"title":"Team C"}', 1, '2024-05-30 11:43:00', '2024-05-30 11:43:00', 1, 1, 0, '', 2, true, false, 'fdr3', false, 'fdr2');
INSERT INTO "dashboard" ("version","slug","title","data","org_id","created","updated","updated_by","created_by","gnet_id","plugin_id","folder_id","is_folder","has_acl","uid","is_public","folder_uid") VALUES (3, 'memory', 'Memory', '{"panels":[{"id":1,"type":"timeseries"}],"title":"Memory"}', 1, '2024-05-30 11:44:00', '2024-05-30 11:50:00', 2, 1, NULL, NULL, 0, false, false, 'mem01', false, NULL);
INSERT INTO "dashboard" ("version","slug","title","data","org_id","created","updated","updated_by","created_by","gnet_id","plugin_id","folder_id","is_folder","has_acl","uid","is_public","folder_uid") VALUES (7, 'cpu-usage', 'CPU usage', '{"panels":[],"title":"CPU usage","tags":["production","cpu"]}', 1, '2024-05-30 11:45:00', '2024-05-30 12:10:00', 1, 1, 1860, '', 1, false, true, 'adsf9k2', true, 'fdr1');
INSERT INTO "dashboard" ("version","slug","title","data","org_id","created","updated","updated_by","created_by","gnet_id","plugin_id","folder_id","is_folder","has_acl","uid","is_public","folder_uid") VALUES (1, 'my-dash', 'my-dash', '{"title":"my-dash"}', 1, '2024-05-30 11:46:00', '2024-05-30 11:46:00', 2, 2, NULL, NULL, 3, false, false, 'mydash1', false, 'fdr3');
INSERT INTO "dashboard" ("version","slug","title","data","org_id","created","updated","updated_by","created_by","gnet_id","plugin_id","folder_id","is_folder","has_acl","uid","is_public","folder_uid") VALUES (1, 'other-org-dash', 'Other org dash', '{}', 2, '2024-05-30 11:47:00', '2024-05-30 11:47:00', 1, 1, NULL, NULL, 0, false, false, 'o2dash', false, NULL);
INSERT INTO "dashboard" ("version","slug","title","data","org_id","created","updated","updated_by","created_by","gnet_id","plugin_id","folder_id","is_folder","has_acl","uid","is_public","folder_uid") VALUES (1, 'to-delete', 'To delete', '{}', 1, '2024-05-30 11:48:00', '2024-05-30 11:48:00', 1, 1, NULL, NULL, 2, false, false, 'del8', false, 'fdr2');
INSERT INTO "dashboard_tag" ("dashboard_id","term") VALUES (5, 'production');
INSERT INTO "dashboard_tag" ("dashboard_id","term") VALUES (5, 'cpu');
INSERT INTO "dashboard_tag" ("dashboard_id","term") VALUES (4, 'production');
INSERT INTO "dashboard_tag" ("dashboard_id","term") VALUES (6, 'team');
INSERT INTO "dashboard_tag" ("dashboard_id","term") VALUES (8, 'obsolete');
INSERT INTO "dashboard_version" ("dashboard_id","parent_version","restored_from","version","created","created_by","message","data") VALUES (5, 6, 0, 7, '2024-05-30 12:10:00', 1, 'tweak thresholds', '{"title":"CPU usage"}');
INSERT INTO "dashboard_version" ("dashboard_id","parent_version","restored_from","version","created","created_by","message","data") VALUES (8, 0, 0, 1, '2024-05-30 11:48:00', 1, '', '{}');
INSERT INTO "dashboard_acl" ("org_id","dashboard_id","user_id","team_id","permission","role","created","updated") VALUES (1, 5, 2, NULL, 2, NULL, '2024-05-30 11:45:00', '2024-05-30 11:45:00');
INSERT INTO "dashboard_acl" ("org_id","dashboard_id","user_id","team_id","permission","role","created","updated") VALUES (1, 8, NULL, 1, 1, NULL, '2024-05-30 11:48:00', '2024-05-30 11:48:00');
INSERT INTO "dashboard_provisioning" ("dashboard_id","name","external_id","updated","check_sum") VALUES (8, 'default', '/etc/grafana/dashboards/del.json', 1717061000, 'abc');
INSERT INTO "dashboard_public" ("uid","dashboard_uid","org_id","time_settings","template_variables","access_token","created_by","updated_by","created_at","updated_at","is_enabled","annotations_enabled","time_selection_enabled","share") VALUES ('pub8', 'del8', 1, '{}', NULL, 'a1b2c3d4e5f60718293a4b5c6d7e8f90', 1, NULL, '2024-05-30 11:48:00', NULL, true, false, false, 'public');
INSERT INTO "playlist" ("name","interval","org_id","created_at","updated_at","uid") VALUES ('wall', '5m', 1, 1717061000, 1717061000, 'pl1');
INSERT INTO "playlist_item" ("playlist_id","type","value","title","order") VALUES (1, 'dashboard_by_id', '8', 'To delete', 1);
INSERT INTO "playlist_item" ("playlist_id","type","value","title","order") VALUES (1, 'dashboard_by_tag', 'production', 'production', 2);
INSERT INTO "star" ("user_id","dashboard_id","dashboard_uid","org_id","updated") VALUES (1, 5, 'adsf9k2', 1, '2024-05-30 12:00:00');
INSERT INTO "star" ("user_id","dashboard_id","dashboard_uid","org_id","updated") VALUES (2, 4, 'mem01', 1, '2024-05-30 12:01:00');
INSERT INTO "star" ("user_id","dashboard_id","dashboard_uid","org_id","updated") VALUES (1, 8, 'del8', 1, '2024-05-30 12:02:00');
-- nested folders (folder table): 1 fdr1, 2 fdr2 (in fdr1), 3 fdr3 (in fdr2), 4 k6-app, 5 fdr4 "a/b" (in fdr1)
INSERT INTO "folder" ("uid","org_id","title","description","parent_uid","created","updated") VALUES ('fdr1', 1, 'Team A', 'first team', NULL, '2024-05-30 11:41:00', '2024-05-30 11:41:00');
INSERT INTO "folder" ("uid","org_id","title","description","parent_uid","created","updated") VALUES ('fdr2', 1, 'Team B', '', 'fdr1', '2024-05-30 11:42:00', '2024-05-30 11:42:00');
INSERT INTO "folder" ("uid","org_id","title","description","parent_uid","created","updated") VALUES ('fdr3', 1, 'Team C', NULL, 'fdr2', '2024-05-30 11:43:00', '2024-05-30 11:43:00');
INSERT INTO "folder" ("uid","org_id","title","description","parent_uid","created","updated") VALUES ('k6-app', 1, 'k6 App', '', NULL, '2024-05-30 11:43:30', '2024-05-30 11:43:30');
INSERT INTO "folder" ("uid","org_id","title","description","parent_uid","created","updated") VALUES ('fdr4', 1, 'a/b', 'slash in title', 'fdr1', '2024-05-30 11:44:00', '2024-05-30 11:44:00');
INSERT INTO "folder" ("uid","org_id","title","description","parent_uid","created","updated") VALUES ('Ops', 1, 'Ops', 'upper-case uid', NULL, '2024-05-30 11:44:30', '2024-05-30 11:44:30');
-- RBAC: roles 1 managed user 1, 2 managed builtin Editor, 3 managed team 1, 4 fixed role (global)
INSERT INTO "role" ("name","description","version","org_id","uid","created","updated","display_name","group_name","hidden") VALUES ('managed:users:1:permissions', '', 1, 1, 'r-user1', '2024-05-30 11:34:31', '2024-05-30 11:34:31', NULL, NULL, false);
INSERT INTO "role" ("name","description","version","org_id","uid","created","updated","display_name","group_name","hidden") VALUES ('managed:builtins:editor:permissions', '', 1, 1, 'r-editor', '2024-05-30 11:34:31', '2024-05-30 11:34:31', NULL, NULL, false);
INSERT INTO "role" ("name","description","version","org_id","uid","created","updated","display_name","group_name","hidden") VALUES ('managed:teams:1:permissions', '', 1, 1, 'r-team1', '2024-05-30 11:40:00', '2024-05-30 11:40:00', NULL, NULL, false);
INSERT INTO "role" ("name","description","version","org_id","uid","created","updated","display_name","group_name","hidden") VALUES ('fixed:dashboards:reader', 'Read dashboards', 3, 0, 'fixed_dash_reader', '2024-05-30 11:34:31', '2024-05-30 11:34:31', 'Dashboard reader', 'Dashboards', true);
INSERT INTO "user_role" ("org_id","user_id","role_id","created") VALUES (1, 1, 1, '2024-05-30 11:34:31');
INSERT INTO "user_role" ("org_id","user_id","role_id","created") VALUES (0, 1, 4, '2024-05-30 11:34:31');
INSERT INTO "builtin_role" ("role","role_id","created","updated","org_id") VALUES ('Editor', 2, '2024-05-30 11:34:31', '2024-05-30 11:34:31', 1);
INSERT INTO "builtin_role" ("role","role_id","created","updated","org_id") VALUES ('Grafana Admin', 4, '2024-05-30 11:34:31', '2024-05-30 11:34:31', 0);
INSERT INTO "team_role" ("org_id","team_id","role_id","created") VALUES (1, 1, 3, '2024-05-30 11:40:00');
INSERT INTO "permission" ("role_id","action","scope","created","updated","kind","attribute","identifier") VALUES (1, 'dashboards:read', 'dashboards:uid:mem01', '2024-05-30 11:34:31', '2024-05-30 11:34:31', 'dashboards', 'uid', 'mem01');
INSERT INTO "permission" ("role_id","action","scope","created","updated","kind","attribute","identifier") VALUES (1, 'dashboards:write', 'dashboards:uid:mem01', '2024-05-30 11:34:31', '2024-05-30 11:34:31', 'dashboards', 'uid', 'mem01');
INSERT INTO "permission" ("role_id","action","scope","created","updated","kind","attribute","identifier") VALUES (2, 'dashboards:read', 'folders:uid:fdr1', '2024-05-30 11:34:31', '2024-05-30 11:34:31', 'folders', 'uid', 'fdr1');
INSERT INTO "permission" ("role_id","action","scope","created","updated","kind","attribute","identifier") VALUES (2, 'folders:read', 'folders:uid:fdr1', '2024-05-30 11:34:31', '2024-05-30 11:34:31', 'folders', 'uid', 'fdr1');
INSERT INTO "permission" ("role_id","action","scope","created","updated","kind","attribute","identifier") VALUES (3, 'teams:read', 'teams:id:1', '2024-05-30 11:40:00', '2024-05-30 11:40:00', 'teams', 'id', '1');
INSERT INTO "permission" ("role_id","action","scope","created","updated","kind","attribute","identifier") VALUES (4, 'dashboards:read', 'dashboards:*', '2024-05-30 11:34:31', '2024-05-30 11:34:31', 'dashboards', '*', '*');
INSERT INTO "permission" ("role_id","action","scope","created","updated","kind","attribute","identifier") VALUES (1, 'dashboards:read', 'dashboards:uid:del8', '2024-05-30 11:48:00', '2024-05-30 11:48:00', 'dashboards', 'uid', 'del8');
-- data sources: 1 Prometheus (default), 2 Loki, 3 Prom alias type (prunable), 4 to-delete, 5 org 2
INSERT INTO "data_source" ("org_id","version","type","name","access","url","password","user","database","basic_auth","basic_auth_user","basic_auth_password","is_default","json_data","created","updated","with_credentials","secure_json_data","read_only","uid","is_prunable","ordinal") VALUES (1, 3, 'prometheus', 'Prometheus', 'proxy', 'http://prometheus:9090', '', '', '', false, '', '', true, '{"httpMethod":"POST"}', '2024-05-30 11:34:40', '2024-05-30 11:34:40', false, '{}', false, 'P8E80F9AEF21F6940', false, 1);
INSERT INTO "data_source" ("org_id","version","type","name","access","url","password","user","database","basic_auth","basic_auth_user","basic_auth_password","is_default","json_data","created","updated","with_credentials","secure_json_data","read_only","uid","is_prunable","ordinal") VALUES (1, 1, 'loki', 'Loki', 'proxy', 'http://loki:3100', NULL, NULL, NULL, true, 'grafana', '', false, NULL, '2024-05-30 11:34:41', '2024-05-30 11:34:41', false, NULL, NULL, 'loki1', false, NULL);
INSERT INTO "data_source" ("org_id","version","type","name","access","url","password","user","database","basic_auth","basic_auth_user","basic_auth_password","is_default","json_data","created","updated","with_credentials","secure_json_data","read_only","uid","is_prunable","ordinal") VALUES (1, 1, 'grafana-prometheus-datasource', 'Mimir', 'proxy', 'http://mimir:8080/prometheus', '', '', '', false, '', '', false, '{}', '2024-05-30 11:34:42', '2024-05-30 11:34:42', true, '{}', true, 'mimir1', true, 3);
INSERT INTO "data_source" ("org_id","version","type","name","access","url","password","user","database","basic_auth","basic_auth_user","basic_auth_password","is_default","json_data","created","updated","with_credentials","secure_json_data","read_only","uid","is_prunable","ordinal") VALUES (1, 1, 'postgres', 'To delete', 'proxy', 'db:5432', '', 'grafana', 'grafana', false, '', '', false, '{}', '2024-05-30 11:34:43', '2024-05-30 11:34:43', false, '{}', false, 'pgdel4', false, NULL);
INSERT INTO "data_source" ("org_id","version","type","name","access","url","password","user","database","basic_auth","basic_auth_user","basic_auth_password","is_default","json_data","created","updated","with_credentials","secure_json_data","read_only","uid","is_prunable","ordinal") VALUES (2, 1, 'prometheus', 'Prometheus', 'direct', 'http://prom2:9090', '', '', '', false, '', '', true, '{}', '2024-05-30 11:35:10', '2024-05-30 11:35:10', false, '{}', false, 'prom2', false, NULL);
-- api keys: 1 ci (no expiry), 2 expired, 3 service-account token, 4 to-delete
INSERT INTO "api_key" ("org_id","name","key","role","created","updated","expires","service_account_id","last_used_at","is_revoked") VALUES (1, 'ci', 'hash-key-ci', 'Viewer', '2024-05-30 11:36:00', '2024-05-30 11:36:00', NULL, NULL, NULL, false);
INSERT INTO "api_key" ("org_id","name","key","role","created","updated","expires","service_account_id","last_used_at","is_revoked") VALUES (1, 'expired', 'hash-key-exp', 'Editor', '2024-01-01 00:00:00', '2024-01-01 00:00:00', 1704153600, NULL, '2024-01-01 12:00:00', false);
INSERT INTO "api_key" ("org_id","name","key","role","created","updated","expires","service_account_id","last_used_at","is_revoked") VALUES (1, 'sa-token', 'hash-key-sa', 'Viewer', '2024-05-30 12:00:00', '2024-05-30 12:00:00', 1893456000, 4, NULL, false);
INSERT INTO "api_key" ("org_id","name","key","role","created","updated","expires","service_account_id","last_used_at","is_revoked") VALUES (1, 'admin key', 'hash-key-del', 'Admin', '2024-05-30 11:37:00', '2024-05-30 11:37:00', 1893456000, NULL, NULL, NULL);
-- preferences: 1 org-wide, 2 team 1, 3 admin user
INSERT INTO "preferences" ("org_id","user_id","version","home_dashboard_id","timezone","theme","created","updated","team_id","week_start","json_data") VALUES (1, 0, 0, 4, 'utc', 'dark', '2024-05-30 11:34:31', '2024-05-30 11:34:31', 0, '', NULL);
INSERT INTO "preferences" ("org_id","user_id","version","home_dashboard_id","timezone","theme","created","updated","team_id","week_start","json_data") VALUES (1, 0, 0, 0, 'browser', '', '2024-05-30 11:40:00', '2024-05-30 11:40:00', 1, 'monday', '{"navbar":{}}');
INSERT INTO "preferences" ("org_id","user_id","version","home_dashboard_id","timezone","theme","created","updated","team_id","week_start","json_data") VALUES (1, 1, 2, 5, 'Europe/Berlin', 'light', '2024-05-30 11:34:31', '2024-05-30 12:00:00', 0, 'sunday', '{}');
-- annotations (epoch in ms): 1 org-level with tags server/env, 2 dashboard 5, 3 old alert annotation, 4 to delete
INSERT INTO "annotation" ("org_id","alert_id","user_id","dashboard_id","panel_id","type","title","text","metric","prev_state","new_state","data","epoch","region_id","tags","created","updated","epoch_end") VALUES (1, 0, 1, 0, 0, '', '', 'deploy web-1', '', '', '', '{}', 1717055000000, 0, '["server:web-1","env:prod"]', 1717055000000, 1717055000000, 1717056000000);
INSERT INTO "annotation" ("org_id","alert_id","user_id","dashboard_id","panel_id","type","title","text","metric","prev_state","new_state","data","epoch","region_id","tags","created","updated","epoch_end") VALUES (1, 0, 2, 5, 2, '', '', 'cpu spike', NULL, '', '', '{}', 1717056500000, 0, '[]', 1717056500000, 1717056500000, 1717056500000);
INSERT INTO "annotation" ("org_id","alert_id","user_id","dashboard_id","panel_id","type","title","text","metric","prev_state","new_state","data","epoch","region_id","tags","created","updated","epoch_end") VALUES (1, 9, 0, 5, 1, 'alert', '', 'alerting', 'cpu', 'OK', 'Alerting', '{"evalMatches":[]}', 1709000000000, 0, NULL, 1709000000000, 1709000000000, 1709000000000);
INSERT INTO "annotation" ("org_id","alert_id","user_id","dashboard_id","panel_id","type","title","text","metric","prev_state","new_state","data","epoch","region_id","tags","created","updated","epoch_end") VALUES (1, 0, 1, 0, 0, '', '', 'to delete', '', '', '', '{}', 1717057000000, 0, '["server:web-2"]', 1717057000000, 1717057000000, 1717057000000);
INSERT INTO "tag" ("key","value") VALUES ('server', 'web-1');
INSERT INTO "tag" ("key","value") VALUES ('env', 'prod');
INSERT INTO "tag" ("key","value") VALUES ('server', 'web-2');
INSERT INTO "annotation_tag" ("annotation_id","tag_id") VALUES (1, 1);
INSERT INTO "annotation_tag" ("annotation_id","tag_id") VALUES (1, 2);
INSERT INTO "annotation_tag" ("annotation_id","tag_id") VALUES (4, 3);
-- unified alerting: rules 1 c1a2b3 (fdr1), 2 d4e5f6 (fdr2), 3 org 2; alert_configuration is unique per org (UQE_alert_configuration_org_id): 1 org 1, 2 org 2
INSERT INTO "alert_rule" ("org_id","title","condition","data","updated","interval_seconds","version","uid","namespace_uid","rule_group","rule_group_idx","no_data_state","exec_err_state","for","annotations","labels","dashboard_uid","panel_id","is_paused","notification_settings") VALUES (1, 'High CPU', 'C', '[{"refId":"A"}]', '2024-05-30 11:50:00', 60, 1, 'c1a2b3', 'fdr1', 'cpu', 1, 'NoData', 'Alerting', 300, '{"summary":"cpu"}', '{"team":"ops"}', 'adsf9k2', 2, false, NULL);
INSERT INTO "alert_rule" ("org_id","title","condition","data","updated","interval_seconds","version","uid","namespace_uid","rule_group","rule_group_idx","no_data_state","exec_err_state","for","annotations","labels","dashboard_uid","panel_id","is_paused","notification_settings") VALUES (1, 'Low memory', 'B', '[]', '2024-05-30 11:51:00', 30, 2, 'd4e5f6', 'fdr2', 'mem', 1, 'OK', 'Error', 0, '{}', '{}', NULL, NULL, true, '[]');
INSERT INTO "alert_rule" ("org_id","title","condition","data","updated","interval_seconds","version","uid","namespace_uid","rule_group","rule_group_idx","no_data_state","exec_err_state","for","annotations","labels","dashboard_uid","panel_id","is_paused","notification_settings") VALUES (2, 'Org2 rule', 'A', '[]', '2024-05-30 11:52:00', 60, 1, 'o2rule', 'o2fdr', 'g', 1, 'NoData', 'Alerting', 0, NULL, NULL, NULL, NULL, false, NULL);
INSERT INTO "alert_instance" ("rule_org_id","rule_uid","labels","labels_hash","current_state","current_reason","current_state_since","current_state_end","last_eval_time") VALUES (1, 'c1a2b3', '[["__alert_rule_uid__","c1a2b3"]]', 'hash-a', 'Normal', '', 1717061600, 1717061900, 1717061670);
INSERT INTO "alert_instance" ("rule_org_id","rule_uid","labels","labels_hash","current_state","current_reason","current_state_since","current_state_end","last_eval_time") VALUES (1, 'c1a2b3', '[["__alert_rule_uid__","c1a2b3"],["instance","web-1"]]', 'hash-b', 'Alerting', 'error', 1717061000, 1717061900, 1717061670);
INSERT INTO "alert_instance" ("rule_org_id","rule_uid","labels","labels_hash","current_state","current_reason","current_state_since","current_state_end","last_eval_time") VALUES (2, 'o2rule', '[]', 'hash-c', 'Normal', NULL, 1717061600, 0, 1717061670);
INSERT INTO "alert_configuration" ("alertmanager_configuration","configuration_version","created_at","default","org_id","configuration_hash") VALUES ('{"route":{}}', 'v1', 1717061000, true, 1, 'hash-conf-1');
INSERT INTO "alert_configuration" ("alertmanager_configuration","configuration_version","created_at","default","org_id","configuration_hash") VALUES ('{}', 'v1', 1717061100, true, 2, 'hash-conf-o2');
-- infra tables
INSERT INTO "kv_store" ("org_id","namespace","key","value","created","updated") VALUES (0, 'alertmanager', 'notifications.1', 'silences-blob', '2024-05-30 11:34:31', '2024-05-30 11:34:31');
INSERT INTO "kv_store" ("org_id","namespace","key","value","created","updated") VALUES (1, 'plugin.xyz', 'cfg.a', '1', '2024-05-30 11:34:31', '2024-05-30 11:34:31');
INSERT INTO "kv_store" ("org_id","namespace","key","value","created","updated") VALUES (1, 'plugin.xyz', 'cfg.b', '2', '2024-05-30 11:34:31', '2024-05-30 11:34:31');
INSERT INTO "kv_store" ("org_id","namespace","key","value","created","updated") VALUES (1, 'plugin.xyz', 'other', '3', '2024-05-30 11:34:31', '2024-05-30 11:34:31');
INSERT INTO "server_lock" ("operation_uid","version","last_execution") VALUES ('delete old login attempts', 7, 1717061000);
INSERT INTO "server_lock" ("operation_uid","version","last_execution") VALUES ('cleanup expired images', 1, 1717000000);
INSERT INTO "cache_data" ("cache_key","data","expires","created_at") VALUES ('signed-in-user-1-1', '\x0a0b0c00ff', 3600, 1717061670);
INSERT INTO "cache_data" ("cache_key","data","expires","created_at") VALUES ('expired-entry', '\x00', 60, 1700000000);
INSERT INTO "cache_data" ("cache_key","data","expires","created_at") VALUES ('never-expires', '\x6869', 0, 1700000000);
INSERT INTO "data_keys" ("name","active","scope","provider","encrypted_data","created","updated","label") VALUES ('dk1', true, 'root', 'secretKey.v1', '\x0102', '2024-05-30 11:34:31', '2024-05-30 11:34:31', '2024-05-30/root@secretKey.v1');
INSERT INTO "data_keys" ("name","active","scope","provider","encrypted_data","created","updated","label") VALUES ('dk0', false, 'root', 'secretKey.v1', '\x0304', '2024-04-30 11:34:31', '2024-04-30 11:34:31', '2024-04-30/root@secretKey.v1');
-- unified storage
INSERT INTO "resource_version" ("group","resource","resource_version","shard") VALUES ('dashboard.grafana.app', 'dashboards', 1717061670000000, 0);
INSERT INTO "resource_version" ("group","resource","resource_version","shard") VALUES ('folder.grafana.app', 'folders', 1717061600000000, 0);
INSERT INTO "resource_history" ("guid","resource_version","group","resource","namespace","name","value","action","previous_resource_version","folder") VALUES ('9b1f0a4e-0000-4000-8000-000000000001', 1717061600000001, 'dashboard.grafana.app', 'dashboards', 'default', 'adsf9k2', '{"spec":{}}', 1, 0, 'fdr1');
INSERT INTO "resource_history" ("guid","resource_version","group","resource","namespace","name","value","action","previous_resource_version","folder") VALUES ('9b1f0a4e-0000-4000-8000-000000000002', 1717061650000002, 'dashboard.grafana.app', 'dashboards', 'default', 'adsf9k2', '{"spec":{"v":2}}', 2, 1717061600000001, 'fdr1');
INSERT INTO "resource_history" ("guid","resource_version","group","resource","namespace","name","value","action","previous_resource_version","folder") VALUES ('9b1f0a4e-0000-4000-8000-000000000003', 1717061660000003, 'dashboard.grafana.app', 'dashboards', 'default', 'mem01', '{"spec":{}}', 1, 0, '');
-- test_schema fixture
INSERT INTO "test_schema"."org" ("version","name","created","updated") VALUES (0, 'Fixture Org', '2024-05-30 11:34:31', '2024-05-30 11:34:31');
INSERT INTO "test_schema"."user" ("version","login","email","name","org_id","is_admin","email_verified","created","updated","help_flags1","last_seen_at","is_disabled","is_service_account","uid") VALUES (0, 'alice', 'Alice@Example.com', 'Alice', 1, false, true, '2024-05-30 11:34:31', '2024-05-30 11:34:31', 1, NULL, false, false, 'fx-alice');
INSERT INTO "test_schema"."org_user" ("org_id","user_id","role","created","updated") VALUES (1, 1, 'Editor', '2024-05-30 11:34:31', '2024-05-30 11:34:31');
-- the explicit-id org insert Grafana follows with setval (1.7)
INSERT INTO "org" ("id","version","name","created","updated") VALUES (10, 0, 'Explicit Id Org', '2024-05-30 11:34:31', '2024-05-30 11:34:31');
