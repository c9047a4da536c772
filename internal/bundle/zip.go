package bundle

import (
	"archive/zip"
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/regfile"
)

// Write packs a bundle: the files of file_list, read from dir, under their names, and the
// manifest (with its checksum, and with a key its signature and seal, which binds out's base name:
// the bundle is to be served under the name it is written as). Each sub-folder gets its
// own entry before anything in it, parents first: Tyk's extractor creates only the folders that
// have an entry, one level at a time. It writes to out atomically.
func Write(m *apidef.BundleManifest, dir, out string, key *rsa.PrivateKey) error {
	if err := CheckManifest(m); err != nil {
		return err
	}
	if err := Sign(m, dir, filepath.Base(out), key); err != nil {
		return err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	folders := map[string]bool{}
	for _, name := range m.FileList {
		for i := range len(name) {
			// Folders that differ only in case share one entry: Extract refuses repeated names.
			if name[i] != '/' || folders[strings.ToLower(name[:i+1])] {
				continue
			}
			folders[strings.ToLower(name[:i+1])] = true
			h := &zip.FileHeader{Name: name[:i+1], Method: zip.Store}
			h.SetMode(fs.ModeDir | 0o755)
			if _, err := zw.CreateHeader(h); err != nil {
				return err
			}
		}
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			return fmt.Errorf("file %q of file_list: %w", name, err)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	mdata, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	w, err := zw.CreateHeader(&zip.FileHeader{Name: ManifestName, Method: zip.Deflate})
	if err != nil {
		return err
	}
	if _, err := w.Write(mdata); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	tmp := out + ".tmp"
	err = os.WriteFile(tmp, buf.Bytes(), 0o644)
	if err == nil {
		err = os.Rename(tmp, out)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return nil
}

// Limits bound what an archive may hold.
type Limits struct {
	// MaxEntries is the most entries an archive may have.
	MaxEntries int
	// MaxBytes is the most its files may hold, uncompressed, in all.
	MaxBytes int64
}

// DefaultLimits are generous for plugins and stop zip bombs.
var DefaultLimits = Limits{MaxEntries: 1000, MaxBytes: 512 << 20}

// ErrUnsafe marks an archive refused before anything was written.
var ErrUnsafe = errors.New("unsafe bundle archive")

// Extract unpacks an archive into dir, which must not exist: everything is written to a
// temporary folder beside it and renamed into place only when the whole archive passed, so a
// refused archive leaves nothing behind. It refuses absolute or climbing names, links and other
// non-regular entries, names that repeat (also when they differ only in case), a file that other
// entries have as their folder (also in another case), and archives over the limits, counting
// the bytes actually inflated rather than trusting the headers.
func Extract(data []byte, dir string, lim Limits) error {
	return ExtractFrom(bytes.NewReader(data), int64(len(data)), dir, lim)
}

// ExtractFrom is Extract for an archive of size bytes read from r (a downloaded file).
func ExtractFrom(r io.ReaderAt, size int64, dir string, lim Limits) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return fmt.Errorf("%w: not a zip archive: %v", ErrUnsafe, err)
	}
	if len(zr.File) > lim.MaxEntries {
		return fmt.Errorf("%w: %d entries, more than the limit of %d", ErrUnsafe, len(zr.File), lim.MaxEntries)
	}
	seen := map[string]bool{}
	// folders holds every folder the archive makes, named by an entry or as the parent of one,
	// lower-cased: no file may have the name of one.
	folders := map[string]bool{}
	var declared uint64
	for _, f := range zr.File {
		name := strings.TrimSuffix(f.Name, "/")
		if err := CheckName(name); err != nil {
			return fmt.Errorf("%w: %v", ErrUnsafe, err)
		}
		mode := f.Mode()
		if !mode.IsRegular() && !mode.IsDir() {
			return fmt.Errorf("%w: %q is %s, not a regular file", ErrUnsafe, f.Name, regfile.Kind(mode))
		}
		key := strings.ToLower(name)
		if seen[key] {
			return fmt.Errorf("%w: %q appears more than once", ErrUnsafe, f.Name)
		}
		seen[key] = true
		if mode.IsDir() {
			folders[key] = true
		}
		for i := range len(key) {
			if key[i] == '/' {
				folders[key[:i]] = true
			}
		}
		// Compared before adding, so that sizes near 2^64 cannot wrap the sum around.
		if f.UncompressedSize64 > uint64(lim.MaxBytes)-declared {
			return fmt.Errorf("%w: its entries declare more than the limit of %d bytes uncompressed", ErrUnsafe, lim.MaxBytes)
		}
		declared += f.UncompressedSize64
	}
	for _, f := range zr.File {
		if name := strings.TrimSuffix(f.Name, "/"); !f.Mode().IsDir() && folders[strings.ToLower(name)] {
			return fmt.Errorf("%w: %q is a file, and other entries have it as their folder", ErrUnsafe, f.Name)
		}
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, ".extract-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	left := lim.MaxBytes
	for _, f := range zr.File {
		name := strings.TrimSuffix(f.Name, "/")
		target := filepath.Join(tmp, filepath.FromSlash(name))
		if f.Mode().IsDir() {
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			return err
		}
		n, err := extractFile(f, target, left)
		if err != nil {
			return err
		}
		left -= n
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("moving the bundle into place: %w", err)
	}
	return nil
}

func extractFile(f *zip.File, target string, left int64) (int64, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, fmt.Errorf("%w: %q: %v", ErrUnsafe, f.Name, err)
	}
	defer rc.Close()
	out, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, io.LimitReader(rc, left+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("%w: %q: %v", ErrUnsafe, f.Name, err)
	}
	if n > left {
		return n, fmt.Errorf("%w: it inflates to more than its declared size and the limit", ErrUnsafe)
	}
	return n, nil
}

// CheckContents makes sure an extracted bundle holds only its manifest and the files it lists.
func CheckContents(dir string, m *apidef.BundleManifest) error {
	want := map[string]bool{ManifestName: true}
	for _, f := range m.FileList {
		want[f] = true
	}
	return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if !want[filepath.ToSlash(rel)] {
			return fmt.Errorf("%w: %q is not in the manifest's file_list, so no signature covers it", ErrUnsafe, filepath.ToSlash(rel))
		}
		return nil
	})
}
