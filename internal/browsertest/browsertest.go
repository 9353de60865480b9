// Package browsertest checks, from tests, that an HTML page renders in headless Chromium
// (Debian's chromium package, installed by scripts/setup-chromium.sh): it loads, every image
// loads at its real size, and a screenshot is not blank.
package browsertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
)

// ChromiumPath is where Debian's chromium package puts the browser; scripts/setup-chromium.sh
// installs it.
const ChromiumPath = "/usr/bin/chromium"

// browserTimeout bounds a whole browser check: start, load, screenshot and exit.
const browserTimeout = 60 * time.Second

// Require skips the test when Chromium is absent, or fails it under CI.
func Require(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		msg := fmt.Sprintf("%s is absent: run scripts/setup-chromium.sh to install Debian's chromium package (%v)", ChromiumPath, err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// pageImage is what the browser says about one <img> of a page.
type pageImage struct {
	Src           string `json:"src"` // at most its first 100 characters
	Alt           string `json:"alt"`
	Complete      bool   `json:"complete"`
	NaturalWidth  int    `json:"naturalWidth"`
	NaturalHeight int    `json:"naturalHeight"`
	DecodeError   string `json:"decodeError"`
}

// imagesJS waits until every image of the page has loaded or failed, then describes each.
const imagesJS = `(async () => {
	const imgs = Array.from(document.images);
	return Promise.all(imgs.map(async (img) => {
		let decodeError = "";
		try { await img.decode(); } catch (e) { decodeError = String(e); }
		return {
			src: (img.getAttribute("src") || "").slice(0, 100),
			alt: img.alt,
			complete: img.complete,
			naturalWidth: img.naturalWidth,
			naturalHeight: img.naturalHeight,
			decodeError: decodeError,
		};
	}));
})()`

// CheckPage opens the HTML file at path in headless Chromium and checks that it renders: the
// page loads, every <img> of the file is loaded with its real size (that of the PNG in its data:
// URI), and a full-page screenshot is a PNG that is not blank. It returns the screenshot's path,
// in a temporary folder of the test. It skips the test (fails it under CI) without Chromium.
func CheckPage(t testing.TB, path string) (screenshotPath string) {
	t.Helper()
	Require(t)
	page, err := os.ReadFile(path)
	require.NoError(t, err)
	wantImages := CheckWellFormed(t, page)["img"]
	abs, err := filepath.Abs(path)
	require.NoError(t, err)
	pageURL := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()

	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		// Chromium puts its singleton socket in TMPDIR and, killed at the end, leaves it there.
		chromedp.Env("TMPDIR="+t.TempDir()),
		chromedp.WindowSize(1200, 900),
		// No network here: keep Chromium from calling home.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
	)
	var browserLog bytes.Buffer
	opts = append(opts, chromedp.CombinedOutput(&browserLog))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc() // kills the browser and waits for it, before the user-data-dir goes
	bctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()

	start := time.Now()
	fail := func(step string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s %s: %v\nbrowser output:\n%s", step, pageURL, err, browserLog.String())
		}
	}
	fail("navigate to", chromedp.Do(bctx, chromedp.Navigate(pageURL))) // waits for the load event
	imgs, err := chromedp.Run(bctx, chromedp.Evaluate[[]pageImage](imagesJS, chromedp.EvalAwaitPromise))
	fail("inspect the images of", err)
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)) // 100: PNG
	fail("take a screenshot of", err)
	t.Logf("%s: %d images, screenshot in %v", filepath.Base(path), len(imgs), time.Since(start).Round(time.Millisecond))

	require.Len(t, imgs, wantImages, "the browser sees every <img> of the file")
	require.NotEmpty(t, imgs, "the page has images")
	for i, img := range imgs {
		require.Truef(t, img.Complete && img.NaturalWidth > 0 && img.DecodeError == "",
			"image %d (%q) did not load: %+v", i+1, img.Alt, img)
		if w, h, ok := dataURIPNGSize(img.Src); ok {
			require.Equalf(t, [2]int{w, h}, [2]int{img.NaturalWidth, img.NaturalHeight},
				"image %d (%q): natural size against the size of its PNG", i+1, img.Alt)
		}
	}

	shotImg, err := png.Decode(bytes.NewReader(shot))
	require.NoError(t, err, "the screenshot is a PNG")
	require.GreaterOrEqual(t, shotImg.Bounds().Dx(), 300, "screenshot width")
	require.Greater(t, distinctColours(shotImg, 3), 2, "the screenshot is blank")

	screenshotPath = filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))+".screenshot.png")
	require.NoError(t, os.WriteFile(screenshotPath, shot, 0o644))
	return screenshotPath
}

// dataURIPNGSize reads the size of the PNG in the start of a data:image/png;base64 URI: its
// header (signature and IHDR) is in the first 33 bytes, 44 characters of base64.
func dataURIPNGSize(src string) (w, h int, ok bool) {
	const prefix = "data:image/png;base64,"
	if !strings.HasPrefix(src, prefix) || len(src) < len(prefix)+44 {
		return 0, 0, false
	}
	head, err := base64.StdEncoding.DecodeString(src[len(prefix) : len(prefix)+44])
	if err != nil {
		return 0, 0, false
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(head))
	if err != nil {
		return 0, 0, false
	}
	return cfg.Width, cfg.Height, true
}

// distinctColours counts the distinct colours of img, sampling every step-th pixel.
func distinctColours(img image.Image, step int) int {
	seen := map[color.RGBA]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += step {
		for x := b.Min.X; x < b.Max.X; x += step {
			r, g, bb, a := img.At(x, y).RGBA()
			seen[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bb >> 8), uint8(a >> 8)}] = true
		}
	}
	return len(seen)
}

// CountColour counts the pixels of img within tol of c in every channel.
func CountColour(img image.Image, c color.RGBA, tol int) int {
	n := 0
	b := img.Bounds()
	near := func(v uint32, want uint8) bool { d := int(v>>8) - int(want); return d >= -tol && d <= tol }
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bb, _ := img.At(x, y).RGBA()
			if near(r, c.R) && near(g, c.G) && near(bb, c.B) {
				n++
			}
		}
	}
	return n
}

// CheckWellFormed fails the test unless page is well-formed HTML as WriteHTML emits it: every
// element other than a void one is closed, in order, and the page asks for nothing outside
// itself (no script, no stylesheet link, no http(s) or protocol-relative URL). It returns how
// many times each element starts.
func CheckWellFormed(t testing.TB, page []byte) map[string]int {
	t.Helper()
	void := map[string]bool{"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true,
		"img": true, "input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true}
	starts := map[string]int{}
	var open []string
	z := html.NewTokenizer(bytes.NewReader(page))
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			require.ErrorIs(t, z.Err(), io.EOF, "tokenizing the page")
			require.Empty(t, open, "elements left open at the end of the page")
			require.Equal(t, 1, starts["html"], "one html element")
			require.Equal(t, 1, starts["head"], "one head element")
			require.Equal(t, 1, starts["body"], "one body element")
			require.Equal(t, 1, starts["title"], "one title element")
			return starts
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			name := tok.Data
			starts[name]++
			require.NotContains(t, []string{"script", "link", "iframe", "object", "embed"}, name, "element <%s>", name)
			for _, a := range tok.Attr {
				v := strings.ToLower(strings.TrimSpace(a.Val))
				if a.Key == "src" || a.Key == "href" {
					require.False(t, strings.HasPrefix(v, "http:") || strings.HasPrefix(v, "https:") || strings.HasPrefix(v, "//"),
						"<%s %s=%q> makes a request", name, a.Key, a.Val)
				}
				require.False(t, strings.HasPrefix(a.Key, "on"), "<%s> has the handler %s", name, a.Key)
			}
			if tt == html.StartTagToken && !void[name] {
				open = append(open, name)
			}
		case html.EndTagToken:
			name := z.Token().Data
			require.NotEmpty(t, open, "</%s> closes nothing", name)
			require.Equal(t, open[len(open)-1], name, "</%s> closes <%s>", name, open[len(open)-1])
			open = open[:len(open)-1]
		}
	}
}
