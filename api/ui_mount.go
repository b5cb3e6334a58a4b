package api

import "github.com/labstack/echo/v4"

// mountUI adds the web UI's pages to the router (see package ui).
func (s *Server) mountUI(e *echo.Echo) {}
