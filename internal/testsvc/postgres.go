package testsvc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

// postgresDB is the database Postgres creates for the test; the superuser is postgres.
const postgresDB = "vmcore"

// PostgresServer is a PostgreSQL server on 127.0.0.1 with trust authentication and one database
// made for the test, its cluster in a temporary directory of the test that started it. Durability
// settings are off (fsync, synchronous_commit, full_page_writes): a killed server loses nothing
// the kernel has, which is all a test needs.
type PostgresServer struct {
	// DSN is a postgres:// URL of the test's database for pgx (user postgres, no password,
	// sslmode=disable).
	DSN string

	srv  server
	port int
}

// Postgres starts a PostgreSQL server for the test and stops it in t.Cleanup: initdb, start, and
// CREATE DATABASE take about a second. The binaries come from $VMCORE_POSTGRES_BIN (a directory
// holding initdb and postgres) or the newest /usr/lib/postgresql/<ver>/bin (Debian's postgresql
// package). As root, the server runs as the postgres user, else nobody, and the test's temporary
// directory is opened to others for search (o+x) so that user can reach its data directory; unix
// sockets go there too. When the binaries are missing, the test is skipped, or fails when CI is
// set.
func Postgres(t testing.TB) *PostgresServer {
	t.Helper()
	bindir, err := postgresBinDir()
	if err != nil {
		unavailable(t, "no PostgreSQL server: %v", err)
	}
	cred, err := postgresCredential()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data, sockets := filepath.Join(dir, "data"), filepath.Join(dir, "run")
	for _, d := range []string{data, sockets} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if len(filepath.Join(sockets, ".s.PGSQL.65535")) > 100 { // sun_path holds 107 bytes
		if sockets, err = os.MkdirTemp("/tmp", "pgrun"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(sockets) })
	}
	if cred != nil {
		if err := openForSearch(dir); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{data, sockets} {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "TZ=UTC", "HOME=" + dir}
	if offset := os.Getenv("VMCORE_POSTGRES_FAKETIME"); offset != "" {
		fake, err := faketimeEnv(offset)
		if err != nil {
			unavailable(t, "PostgreSQL on a shifted clock: %v", err)
		}
		env = append(env, fake...)
	}
	command := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bindir, name), args...)
		cmd.Dir, cmd.Env = dir, env
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		return cmd
	}

	logPath := filepath.Join(dir, "postgres.log")
	initdb := command("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8",
		"--locale=C", "--no-sync", "--no-instructions")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", quote(initdb.Args), err, out)
	}
	p := &PostgresServer{}
	p.srv = server{
		t:       t,
		name:    "postgres",
		logPath: logPath,
		stopSig: syscall.SIGINT, // fast shutdown: roll back open transactions, checkpoint, exit
		command: func() *exec.Cmd {
			return command("postgres", "-D", data, "-p", strconv.Itoa(p.port),
				"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+sockets,
				"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
		},
		probe: func(ctx context.Context) error {
			conn, err := pgx.Connect(ctx, p.url("postgres"))
			if err != nil {
				return err
			}
			return conn.Close(ctx)
		},
		newPort: func() (err error) {
			p.port, err = freePort()
			return err
		},
	}
	if err := p.srv.launch(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, p.url("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+postgresDB); err != nil {
		t.Fatalf("creating database %s: %v", postgresDB, err)
	}
	p.DSN = p.url(postgresDB)
	return p
}

// url returns the DSN of database db.
func (p *PostgresServer) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, db)
}

// Stop stops the server (fast shutdown, SIGKILL after 15 s) and waits for it to exit; open
// connections break. Start reuses its data and port. Stop on a stopped server does
// nothing.
func (p *PostgresServer) Stop() { p.srv.stop() }

// Start starts a stopped server again on the same port and data, and waits until it accepts
// connections; a failure fails the test, so call it from the test's goroutine. Start on a running
// server does nothing.
func (p *PostgresServer) Start() {
	p.srv.t.Helper()
	p.srv.mustStart()
}

// Restart is Stop then Start: connections opened before it are broken, committed data stay.
func (p *PostgresServer) Restart() {
	p.srv.t.Helper()
	p.srv.stop()
	p.srv.mustStart()
}

// faketimeEnv returns the environment that runs a C program on a clock
// shifted by offset (libfaketime's FAKETIME syntax, e.g. "+1461d"): the
// future-clock run of the suite (scripts/test-future-clock) moves the
// tests' own clock and MinIO's with a Go overlay, and PostgreSQL's with
// this, so that all of them agree on the shifted time.
func faketimeEnv(offset string) ([]string, error) {
	libs, _ := filepath.Glob("/usr/lib/*/faketime/libfaketime.so.1")
	if len(libs) == 0 {
		return nil, fmt.Errorf("VMCORE_POSTGRES_FAKETIME=%s but no libfaketime.so.1 (apt-get install faketime)", offset)
	}
	return []string{"LD_PRELOAD=" + libs[0], "FAKETIME=" + offset, "FAKETIME_DONT_RESET=1"}, nil
}

// postgresBinDir returns the directory holding initdb and postgres.
func postgresBinDir() (string, error) {
	if dir := os.Getenv("VMCORE_POSTGRES_BIN"); dir != "" {
		return dir, checkPostgresBin(dir)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, dir := range dirs {
		if checkPostgresBin(dir) == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("no /usr/lib/postgresql/*/bin/{initdb,postgres} (apt-get install postgresql) and VMCORE_POSTGRES_BIN unset")
}

// pgMajor returns the version in /usr/lib/postgresql/<ver>/bin, or 0.
func pgMajor(bindir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(bindir)))
	return v
}

func checkPostgresBin(dir string) error {
	for _, name := range []string{"initdb", "postgres"} {
		if _, err := exec.LookPath(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

// postgresCredential returns whom to run PostgreSQL as: nil (ourselves) unless we are root, then
// the postgres user, else nobody.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var errs []string
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil || uid == 0 {
			errs = append(errs, fmt.Sprintf("user %s: uid %s gid %s", name, u.Uid, u.Gid))
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
	}
	return nil, fmt.Errorf("PostgreSQL refuses to run as root and no user to run it as: %s", strings.Join(errs, "; "))
}

// openForSearch adds o+x to dir and to its parents below the temporary directory (t.TempDir makes
// its top directory 0700), so that another user can reach dir's children by name. It changes
// nothing at or above $GOTMPDIR or os.TempDir() and fails when one of those is closed to others.
func openForSearch(dir string) error {
	top := os.Getenv("GOTMPDIR") // where t.TempDir puts its directories
	if top == "" {
		top = os.TempDir()
	}
	top = filepath.Clean(top)
	ours := strings.HasPrefix(dir, top+string(filepath.Separator))
	for d := dir; ; d = filepath.Dir(d) {
		if d == top {
			ours = false
		}
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if !ours {
				return fmt.Errorf("%s is closed to other users, so the PostgreSQL server user cannot reach its data in %s; set TMPDIR=/tmp", d, dir)
			}
			if err := os.Chmod(d, fi.Mode().Perm()|0o001); err != nil {
				return err
			}
		}
		if filepath.Dir(d) == d {
			return nil
		}
	}
}
