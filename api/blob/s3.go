package blob

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config says where an S3-compatible store is.
type S3Config struct {
	Endpoint  string // host:port
	Bucket    string
	Region    string
	AccessKey string
	SecretKey string
	Insecure  bool   // plain HTTP
	PathStyle bool   // bucket in the path, not the host name
	CAFile    string // extra CA bundle for the endpoint's certificate
	// PublicEndpoint, when set, is the host:port written into presigned
	// URLs handed to uploaders, for stores the API reaches under another
	// name than the hosts do.
	PublicEndpoint string
}

// S3 is a Store in an S3 bucket. Uploaders receive presigned part URLs, so
// their bytes go straight to the store and hosts hold no storage keys.
type S3 struct {
	core   *minio.Core
	signer *minio.Client
	bucket string
}

// NewS3 connects to an S3-compatible store and makes the bucket if it is
// missing.
func NewS3(ctx context.Context, c S3Config) (*S3, error) {
	tr, err := minio.DefaultTransport(!c.Insecure)
	if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("blob: CA file: %w", err)
		}
		pool, _ := x509.SystemCertPool()
		if pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("blob: CA file %s holds no PEM certificate", c.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	lookup := minio.BucketLookupAuto
	if c.PathStyle {
		lookup = minio.BucketLookupPath
	}
	opts := func() *minio.Options {
		return &minio.Options{Creds: credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""), Secure: !c.Insecure,
			Region: c.Region, BucketLookup: lookup, Transport: tr}
	}
	core, err := minio.NewCore(c.Endpoint, opts())
	if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	signer := core.Client
	if c.PublicEndpoint != "" {
		if signer, err = minio.New(c.PublicEndpoint, opts()); err != nil {
			return nil, fmt.Errorf("blob: public endpoint: %w", err)
		}
	}
	s := &S3{core: core, signer: signer, bucket: c.Bucket}
	ok, err := core.BucketExists(ctx, c.Bucket)
	if err != nil {
		return nil, fmt.Errorf("blob: bucket %s: %w", c.Bucket, err)
	}
	if !ok {
		if err := core.MakeBucket(ctx, c.Bucket, minio.MakeBucketOptions{Region: c.Region}); err != nil {
			return nil, fmt.Errorf("blob: making bucket %s: %w", c.Bucket, err)
		}
	}
	return s, nil
}

// notFound maps the store's answers to the package's errors: a missing
// object or upload, a full store, refused bytes.
func notFound(err error, what string) error {
	switch r := minio.ToErrorResponse(err); {
	case r.StatusCode == http.StatusNotFound || r.Code == "NoSuchKey" || r.Code == "NoSuchUpload":
		return fmt.Errorf("blob: %s: %w", what, ErrNotFound)
	case r.StatusCode == http.StatusInsufficientStorage || r.Code == "XMinioStorageFull" || r.Code == "QuotaExceeded":
		return fmt.Errorf("blob: %s: %w", what, errors.Join(ErrNoSpace, err))
	case r.Code == "BadDigest" || r.Code == "InvalidDigest" || r.Code == "IncompleteBody" || r.Code == "EntityTooSmall":
		return fmt.Errorf("blob: %s: %s: %w", what, r.Code, ErrBadContent)
	}
	return fmt.Errorf("blob: %s: %w", what, err)
}

// Put implements Store.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	// A known size keeps minio-go from buffering a 512 MiB part.
	_, err := s.core.Client.PutObject(ctx, s.bucket, key, r, size, minio.PutObjectOptions{PartSize: 16 << 20, NumThreads: 1})
	if err != nil {
		return notFound(err, "put "+key)
	}
	return nil
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, key string) (int64, error) {
	if err := CheckKey(key); err != nil {
		return 0, err
	}
	info, err := s.core.Client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return 0, notFound(err, key)
	}
	return info.Size, nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := s.core.Client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		if errors.Is(notFound(err, key), ErrNotFound) {
			return nil
		}
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	return nil
}

// Open implements Store: reads become ranged GETs through a bounded block
// cache (see RangeReader).
func (s *S3) Open(ctx context.Context, key string) (Object, error) {
	size, err := s.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	fetch := func(p []byte, off int64) (int, error) {
		o := minio.GetObjectOptions{}
		if err := o.SetRange(off, off+int64(len(p))-1); err != nil {
			return 0, err
		}
		obj, _, _, err := s.core.GetObject(ctx, s.bucket, key, o)
		if err != nil {
			return 0, notFound(err, key)
		}
		defer obj.Close()
		return io.ReadFull(obj, p)
	}
	return NewRangeReader(fetch, size, DefaultBlockSize, DefaultCacheBlocks), nil
}

// Stream implements Store: one GET of the whole object.
func (s *S3) Stream(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	obj, _, _, err := s.core.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, notFound(err, key)
	}
	return obj, nil
}

// NewUpload implements Store.
func (s *S3) NewUpload(ctx context.Context, key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	id, err := s.core.NewMultipartUpload(ctx, s.bucket, key, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return "", fmt.Errorf("blob: new upload %s: %w", key, err)
	}
	return id, nil
}

// PartURL implements Store: a presigned PUT of one part.
func (s *S3) PartURL(ctx context.Context, key, uploadID string, n int, expiry time.Duration) (string, error) {
	q := url.Values{"partNumber": {strconv.Itoa(n)}, "uploadId": {uploadID}}
	u, err := s.signer.Presign(ctx, http.MethodPut, s.bucket, key, expiry, q)
	if err != nil {
		return "", fmt.Errorf("blob: presign part %d of %s: %w", n, key, err)
	}
	return u.String(), nil
}

// PutPart implements Store.
func (s *S3) PutPart(ctx context.Context, key, uploadID string, n int, r io.Reader, size int64, contentMD5 []byte) (Part, error) {
	opts := minio.PutObjectPartOptions{}
	if contentMD5 != nil {
		opts.Md5Base64 = base64.StdEncoding.EncodeToString(contentMD5)
	}
	p, err := s.core.PutObjectPart(ctx, s.bucket, key, uploadID, n, r, size, opts)
	if err != nil {
		return Part{}, notFound(err, fmt.Sprintf("part %d of %s", n, key))
	}
	return Part{Number: n, Size: p.Size, ETag: p.ETag}, nil
}

// ListParts implements Store.
func (s *S3) ListParts(ctx context.Context, key, uploadID string) ([]Part, error) {
	var parts []Part
	marker := 0
	for range MaxParts/1000 + 2 { // bounded: S3 pages hold up to 1000 parts
		res, err := s.core.ListObjectParts(ctx, s.bucket, key, uploadID, marker, 1000)
		if err != nil {
			return nil, notFound(err, "upload of "+key)
		}
		for _, p := range res.ObjectParts {
			parts = append(parts, Part{Number: p.PartNumber, Size: p.Size, ETag: p.ETag})
		}
		if !res.IsTruncated {
			break
		}
		marker = res.NextPartNumberMarker
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
	return parts, nil
}

// Complete implements Store: the store composes the object from its
// parts, without copying them through the API. Once the object exists and
// the upload is gone, Complete does nothing.
func (s *S3) Complete(ctx context.Context, key, uploadID string, parts []Part) error {
	cp := make([]minio.CompletePart, len(parts))
	for i, p := range parts {
		cp[i] = minio.CompletePart{PartNumber: p.Number, ETag: p.ETag}
	}
	if _, err := s.core.CompleteMultipartUpload(ctx, s.bucket, key, uploadID, cp, minio.PutObjectOptions{}); err != nil {
		err = notFound(err, "completing "+key)
		if errors.Is(err, ErrNotFound) {
			if _, serr := s.Stat(ctx, key); serr == nil {
				return nil // completed before
			}
		}
		return err
	}
	return nil
}

// Abort implements Store.
func (s *S3) Abort(ctx context.Context, key, uploadID string) error {
	if err := s.core.AbortMultipartUpload(ctx, s.bucket, key, uploadID); err != nil {
		if errors.Is(notFound(err, key), ErrNotFound) {
			return nil
		}
		return fmt.Errorf("blob: abort %s: %w", key, err)
	}
	return nil
}
