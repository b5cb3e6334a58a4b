package ui

import "net/http"

// uploadData is the upload page's: where the script sends the parts.
type uploadData struct {
	API string
}

// UploadAPI is where the upload page's script drives the upload protocol
// (the same requests as /api/v1/uploads, authorized by the session and
// its CSRF token instead of a bearer token). The API mounts it.
const UploadAPI = "/upload/api/v1/uploads"

func (u *UI) uploadPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav, v.Data = v.P.T("upload.title"), "upload", uploadData{API: UploadAPI}
	u.render(w, r, http.StatusOK, "upload", v)
	return nil
}
