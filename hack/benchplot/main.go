// Command benchplot draws the resource sweep of `make bench` (hack/bench.sh)
// as an SVG line chart: wall time against the number of resources per side,
// one line per tool. Standard library only.
//
// The input is CSV with a header: the first column is the x value (resources
// per side), every further column a series in milliseconds, named by its
// header. Empty cells are gaps.
//
//	go run ./hack/benchplot -in sweep.csv -out docs/benchmarks.svg -title "..."
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"html"
	"io"
	"log"
	"math"
	"os"
	"strconv"
	"strings"
)

// series is one line of the chart.
type series struct {
	name string
	ys   []float64 // NaN for a gap
}

func main() {
	in := flag.String("in", "-", "CSV input (- for stdin)")
	out := flag.String("out", "-", "SVG output (- for stdout)")
	title := flag.String("title", "Render and verify time against resources per side", "chart title")
	xLabel := flag.String("xlabel", "resources per side (base and head each)", "x axis label")
	yLabel := flag.String("ylabel", "wall time, median (s)", "y axis label")
	flag.Parse()

	r := io.Reader(os.Stdin)
	if *in != "-" {
		f, err := os.Open(*in)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		r = f
	}
	xs, ss, err := readCSV(r)
	if err != nil {
		log.Fatalf("benchplot: %v", err)
	}
	svg := render(*title, *xLabel, *yLabel, xs, ss)
	if *out == "-" {
		fmt.Print(svg)
		return
	}
	if err := os.WriteFile(*out, []byte(svg), 0o644); err != nil {
		log.Fatal(err)
	}
}

func readCSV(r io.Reader) ([]float64, []series, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, nil, err
	}
	if len(rows) < 2 || len(rows[0]) < 2 {
		return nil, nil, fmt.Errorf("want a header and at least one row of x and one series")
	}
	ss := make([]series, len(rows[0])-1)
	for i := range ss {
		ss[i].name = rows[0][i+1]
	}
	var xs []float64
	for n, row := range rows[1:] {
		if len(row) != len(rows[0]) {
			return nil, nil, fmt.Errorf("row %d has %d cells, the header %d", n+2, len(row), len(rows[0]))
		}
		x, err := strconv.ParseFloat(strings.TrimSpace(row[0]), 64)
		if err != nil {
			return nil, nil, fmt.Errorf("row %d: x %q: %v", n+2, row[0], err)
		}
		xs = append(xs, x)
		for i := range ss {
			cell := strings.TrimSpace(row[i+1])
			y := math.NaN()
			if cell != "" {
				if y, err = strconv.ParseFloat(cell, 64); err != nil {
					return nil, nil, fmt.Errorf("row %d: %s %q: %v", n+2, ss[i].name, cell, err)
				}
			}
			ss[i].ys = append(ss[i].ys, y)
		}
	}
	return xs, ss, nil
}

// niceTicks returns about n round tick values covering [0, max].
func niceTicks(max float64, n int) []float64 {
	if max <= 0 {
		max = 1
	}
	raw := max / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ticks []float64
	for v := 0.0; v < max+step*0.999; v += step {
		ticks = append(ticks, v)
	}
	return ticks
}

func label(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

var colors = []string{"#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e"}

func render(title, xLabel, yLabel string, xs []float64, ss []series) string {
	const (
		width, height            = 760, 460
		left, right, top, bottom = 80, 30, 50, 70
	)
	plotW, plotH := float64(width-left-right), float64(height-top-bottom)
	maxX, maxY := 0.0, 0.0
	for _, x := range xs {
		maxX = math.Max(maxX, x)
	}
	for _, s := range ss {
		for _, y := range s.ys {
			if !math.IsNaN(y) {
				maxY = math.Max(maxY, y/1000)
			}
		}
	}
	xt, yt := niceTicks(maxX, 5), niceTicks(maxY, 5)
	xMax, yMax := xt[len(xt)-1], yt[len(yt)-1]
	px := func(x float64) float64 { return float64(left) + x/xMax*plotW }
	py := func(y float64) float64 { return float64(top) + plotH - y/yMax*plotH }

	var b strings.Builder
	e := html.EscapeString
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="28" text-anchor="middle" font-size="15" font-weight="bold">%s</text>`+"\n", width/2, e(title))
	// Grid and ticks.
	for _, v := range yt {
		y := py(v)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e0e0e0"/>`+"\n", left, y, width-right, y)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#333"/>`+"\n", left-5, y, left, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", left-8, y, label(v))
	}
	for _, v := range xt {
		x := px(v)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e0e0e0"/>`+"\n", x, top, x, height-bottom)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#333"/>`+"\n", x, height-bottom, x, height-bottom+5)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, height-bottom+19, label(v))
	}
	// Axes and their labels.
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`+"\n", left, height-bottom, width-right, height-bottom)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`+"\n", left, top, left, height-bottom)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", float64(left)+plotW/2, height-bottom+45, e(xLabel))
	fmt.Fprintf(&b, `<text x="20" y="%.1f" text-anchor="middle" transform="rotate(-90 20 %.1f)">%s</text>`+"\n", float64(top)+plotH/2, float64(top)+plotH/2, e(yLabel))
	// Lines, points and the legend, in a box at the top left.
	longest := 0
	for _, s := range ss {
		longest = max(longest, len(s.name))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#ffffff" fill-opacity="0.9" stroke="#cccccc"/>`+"\n",
		left+8, top+1, 56+6*longest, 20*len(ss)+4)
	for i, s := range ss {
		c := colors[i%len(colors)]
		var pts []string
		for j, y := range s.ys {
			if math.IsNaN(y) {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(xs[j]), py(y/1000)))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", c, strings.Join(pts, " "))
		for j, y := range s.ys {
			if math.IsNaN(y) {
				continue
			}
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s: %s resources, %s ms</title></circle>`+"\n",
				px(xs[j]), py(y/1000), c, e(s.name), label(xs[j]), label(y))
		}
		ly := top + 12 + i*20
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", left+15, ly, left+40, ly, c)
		fmt.Fprintf(&b, `<circle cx="%d" cy="%d" r="3.5" fill="%s"/>`+"\n", left+27, ly, c)
		fmt.Fprintf(&b, `<text x="%d" y="%d" dominant-baseline="middle">%s</text>`+"\n", left+48, ly, e(s.name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}
