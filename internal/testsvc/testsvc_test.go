package testsvc_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/vmcore/vmcore/internal/testsvc"
)

func TestMinIO(t *testing.T) {
	t.Parallel()
	start := time.Now()
	s := testsvc.MinIO(t)
	t.Logf("MinIO ready at %s in %v", s.Endpoint, time.Since(start).Round(time.Millisecond))

	c, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	const bucket, key = "vmcores", "host1/0001/vmcore"
	body := bytes.Repeat([]byte("KDUMP   "), 1<<10)
	if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, bucket, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	get := func() error {
		obj, err := c.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
		if err != nil {
			return err
		}
		defer obj.Close()
		got, err := io.ReadAll(obj)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, body) {
			t.Fatalf("got %d bytes back, want the %d put", len(got), len(body))
		}
		return nil
	}
	if err := get(); err != nil {
		t.Fatal(err)
	}

	s.Stop()
	if _, err := net.DialTimeout("tcp", s.Endpoint, time.Second); err == nil {
		t.Fatal("stopped MinIO still accepts connections")
	}
	start = time.Now()
	s.Start()
	t.Logf("MinIO restarted in %v", time.Since(start).Round(time.Millisecond))
	if err := get(); err != nil {
		t.Fatalf("after Stop and Start: %v", err)
	}
	s.Restart()
	if err := get(); err != nil {
		t.Fatalf("after Restart: %v", err)
	}
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	start := time.Now()
	s := testsvc.Postgres(t)
	t.Logf("PostgreSQL ready in %v: %s", time.Since(start).Round(time.Millisecond), s.DSN)

	ctx := t.Context()
	conn, err := pgx.Connect(ctx, s.DSN)
	if err != nil {
		t.Fatal(err)
	}
	var one int
	if err := conn.QueryRow(ctx, "select 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("select 1: %d, %v", one, err)
	}
	if _, err := conn.Exec(ctx, "create table dumps (id text primary key, size bigint not null)"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "insert into dumps values ('host1/0001', 4096)"); err != nil {
		t.Fatal(err)
	}

	start = time.Now()
	s.Restart()
	t.Logf("PostgreSQL restarted in %v", time.Since(start).Round(time.Millisecond))
	if err := conn.Ping(ctx); err == nil {
		t.Error("a connection opened before Restart still answers")
	}
	conn.Close(ctx)

	conn, err = pgx.Connect(ctx, s.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var size int64
	if err := conn.QueryRow(ctx, "select size from dumps where id = 'host1/0001'").Scan(&size); err != nil || size != 4096 {
		t.Fatalf("after Restart: size %d, %v", size, err)
	}

	s.Stop()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if c, err := pgx.Connect(cctx, s.DSN); err == nil {
		c.Close(ctx)
		t.Fatal("stopped PostgreSQL still accepts connections")
	}
	s.Start()
	if err := conn.Ping(ctx); err == nil {
		t.Error("a connection opened before Stop still answers")
	}
}

// TestPostgresTwice checks that two servers run side by side, each with its own port and data.
func TestPostgresTwice(t *testing.T) {
	t.Parallel()
	a, b := testsvc.Postgres(t), testsvc.Postgres(t)
	if a.DSN == b.DSN {
		t.Fatalf("two servers, one DSN: %s", a.DSN)
	}
	for _, s := range []*testsvc.PostgresServer{a, b} {
		conn, err := pgx.Connect(t.Context(), s.DSN)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(t.Context(), "create table t (x int)"); err != nil {
			t.Fatal(err) // would fail on the second server if both were one
		}
		conn.Close(t.Context())
	}
}

// TestCIPrebuildsPinnedMinIO keeps the prebuild of the MinIO server in scripts/test (what .ci/run
// runs) on the version MinIO builds; a mismatch costs every CI run a build of minutes inside the
// tests.
func TestCIPrebuildsPinnedMinIO(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("..", "..", "scripts", "test"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "github.com/minio/minio@" + testsvc.MinIOVersion; !strings.Contains(string(script), want) {
		t.Errorf("scripts/test does not prebuild %s", want)
	}
}
