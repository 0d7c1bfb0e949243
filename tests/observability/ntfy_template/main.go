// Renders an ntfy message or title template over a JSON body the way the ntfy server does
// for `?tpl=1` (its replaceTemplate in server/server.go, v2.10 and later): Go's text/template,
// no extra functions, executed over the body decoded into interface values, and refused if it
// calls template, call or define. The end-to-end alert test feeds it the body Alertmanager
// posted, to print the notification the phone would show.
//
//	go run main.go TEMPLATE_FILE < body.json
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"text/template"
)

var disallowed = regexp.MustCompile(`(?m)\{\{-?\s*(call|template|define)\b`)

func main() {
	source, err := os.ReadFile(os.Args[1])
	check(err)
	text := strings.TrimSpace(string(source))
	if disallowed.MatchString(text) {
		check(fmt.Errorf("ntfy refuses templates that call template, call or define"))
	}
	body, err := io.ReadAll(os.Stdin)
	check(err)
	var data any
	check(json.Unmarshal([]byte(strings.TrimSpace(string(body))), &data))
	parsed, err := template.New("").Parse(text)
	check(err)
	check(parsed.Execute(os.Stdout, data))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
