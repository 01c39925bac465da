-- psql meta-commands through metagate must print what they print against PostgreSQL 15.
CREATE TABLE "user" (id SERIAL PRIMARY KEY NOT NULL, login VARCHAR(190) NOT NULL, email VARCHAR(190) NOT NULL, is_admin BOOL NOT NULL, created TIMESTAMP NOT NULL, help_flags1 BIGINT NOT NULL DEFAULT 0);
CREATE UNIQUE INDEX "UQE_user_login" ON "user" (login);
CREATE INDEX "IDX_user_email" ON "user" (email);
CREATE TABLE dashboard_tag (id BIGSERIAL PRIMARY KEY, dashboard_id BIGINT NOT NULL, term VARCHAR(50) NOT NULL);
CREATE SEQUENCE standalone_seq;
\dt
\di
\ds
\dt us*
\di *login*
\dt nomatch
SELECT 'abc' ~ '^a' AS a, 'abc' !~ 'B' AS b, 'abc' ~* 'B' AS c, 'abc' !~* 'B' AS d;
SELECT 'x' ~ '(';
SELECT c.oid::regclass AS r, c.relnamespace::regnamespace AS n, 23::regtype AS t FROM pg_class c WHERE relname IN ('user', 'UQE_user_login', 'user_id_seq') ORDER BY c.relname;
SELECT sequencename, data_type FROM pg_sequences ORDER BY 1;
SELECT collname FROM pg_collation WHERE oid IN (100, 950, 951) ORDER BY oid;
SELECT count(*) FROM pg_policy, pg_statistic_ext, pg_inherits;
\d "user"
\d dashboard_tag
\d
SELECT '{0}'::oid[], '{1, 2 ,NULL}'::int[], '{"a b",c,""}'::text[], array_to_string('{1,NULL,3}'::int[], '-'), array_to_string('{1,NULL,3}'::int[], '-', '*');
SELECT array_upper('{4,5,6}'::int[], 1), array_upper('{}'::int[], 1), ('{4,5,6}'::int[])[2], 2 = any('{1,2}'::int[]);
SELECT * FROM generate_series(1,3);
SELECT s FROM generate_series(5, 1, -2) s;
SELECT g.x FROM generate_series(1, 2) AS g(x);
SELECT '{1,2'::int[];
