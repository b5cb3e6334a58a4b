package store

import (
	"context"
	"testing"

	"github.com/vmcore/vmcore/internal/testsvc"
)

// TestPostgres runs the store's contract on a real PostgreSQL server.
func TestPostgres(t *testing.T) {
	pg := testsvc.Postgres(t)
	db, err := Open(context.Background(), pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	Exercise(t, db)
	ExerciseBuckets(t, db)
	ExerciseTriage(t, db)
	ExerciseQueue(t, db)
	// A second Open (another process starting) finds the schema in place.
	db2, err := Open(context.Background(), pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	db2.Close()
}
