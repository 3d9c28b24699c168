package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
)

var (
	white   = color.RGBA{255, 255, 255, 255}
	black   = color.RGBA{20, 20, 20, 255}
	grey    = color.RGBA{200, 200, 200, 255}
	dark    = color.RGBA{90, 90, 90, 255}
	red     = color.RGBA{200, 40, 40, 255}
	palette = []color.RGBA{{90, 160, 90, 255}, {60, 110, 190, 255}, {220, 140, 40, 255}} // privileged, baseline, restricted
)

type bar struct {
	v, lo, hi float64
	ok        bool
}

type panel struct {
	title  string
	sub    string
	groups []string
	bars   [][]bar // [group][profile]
	target float64 // 0: none
}

// chart draws the overhead by profile and spec size: left, the added
// create latency over runc direct (interleaved lifecycles); right, secshim
// alone (create handed to a do-nothing backend).
func chart(d *data, path string) error {
	user := panel{title: "CREATE VS RUNC DIRECT", sub: "what a user sees, incl. policy effect", groups: sizes, target: targetCreateMs}
	own := panel{title: "CREATE, SECSHIM'S OWN COST", sub: "vs runc on the config secshim writes", groups: sizes, target: targetCreateMs}
	alone := panel{title: "SECSHIM ALONE", sub: "backend does nothing, vs it direct", groups: sizes, target: targetCreateMs}
	for _, s := range sizes {
		var ub, ob, ab []bar
		for _, p := range profiles {
			arm := "secshim-" + p + "-runc"
			st, ok := d.lifecycle[s].stat(arm, "runc", "create")
			ub = append(ub, bar{st.MedianDiff, st.CI95[0], st.CI95[1], ok})
			if o, ok2 := d.lifecycle[s].stat(arm, "runc-hardened-"+p, "create"); ok2 {
				st, ok = o, ok2
			}
			ob = append(ob, bar{st.MedianDiff, st.CI95[0], st.CI95[1], ok})
			h, ok3 := d.handoff.stat("secshim-"+p+"-"+s, "exit0", "total")
			ab = append(ab, bar{h.MedianDiff, h.CI95[0], h.CI95[1], ok3})
		}
		user.bars = append(user.bars, ub)
		own.bars = append(own.bars, ob)
		alone.bars = append(alone.bars, ab)
	}
	const W, H = 1500, 620
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	draw.Draw(img, img.Bounds(), &image.Uniform{white}, image.Point{}, draw.Src)
	drawText(img, 20, 14, "SECSHIM START-TIME OVERHEAD BY PROFILE AND SPEC SIZE (MS, MEDIAN OF PER-ROUND DIFFERENCES, 95% CI)", 2, black)
	lx := 20
	for i, p := range profiles {
		fill(img, lx, 44, 16, 16, palette[i])
		drawText(img, lx+22, 46, p, 2, black)
		lx += 22 + textWidth(p, 2) + 30
	}
	dashH(img, lx, lx+40, 52, red)
	drawText(img, lx+48, 46, fmt.Sprintf("target %.1f ms (baseline, podman)", targetCreateMs), 2, red)
	pw := (W - 20) / 3
	for i, p := range []panel{user, own, alone} {
		drawPanel(img, p, image.Rect(10+i*pw, 80, 10+(i+1)*pw-10, H-10))
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return png.Encode(f, img)
}

func drawPanel(img *image.RGBA, p panel, r image.Rectangle) {
	drawText(img, r.Min.X+10, r.Min.Y, p.title, 2, black)
	drawText(img, r.Min.X+10, r.Min.Y+20, p.sub, 2, dark)
	plot := image.Rect(r.Min.X+70, r.Min.Y+50, r.Max.X-10, r.Max.Y-40)
	lo, hi := 0.0, p.target*1.2
	for _, g := range p.bars {
		for _, b := range g {
			if !b.ok {
				continue
			}
			lo = math.Min(lo, math.Min(b.v, b.lo))
			hi = math.Max(hi, math.Max(b.v, b.hi))
		}
	}
	step := niceStep((hi - lo) / 6)
	lo = math.Floor(lo/step) * step
	hi = math.Ceil(hi/step) * step
	y := func(v float64) int {
		return plot.Max.Y - int(math.Round((v-lo)/(hi-lo)*float64(plot.Dy())))
	}
	for v := lo; v <= hi+step/2; v += step {
		yy := y(v)
		lineH(img, plot.Min.X, plot.Max.X, yy, grey)
		label := fmt.Sprintf("%.1f", v)
		if step < 0.1 {
			label = fmt.Sprintf("%.2f", v)
		}
		drawText(img, plot.Min.X-8-textWidth(label, 2), yy-7, label, 2, dark)
	}
	lineH(img, plot.Min.X, plot.Max.X, y(0), black)
	lineV(img, plot.Min.X, plot.Min.Y, plot.Max.Y, black)
	gw := plot.Dx() / len(p.groups)
	bw := gw / (len(profiles) + 1)
	for gi, g := range p.bars {
		gx := plot.Min.X + gi*gw + bw/2
		for pi, b := range g {
			x0 := gx + pi*bw
			if !b.ok {
				drawText(img, x0+4, y(0)-18, "n/a", 2, dark)
				continue
			}
			top, bot := y(b.v), y(0)
			if top > bot {
				top, bot = bot, top
			}
			fill(img, x0+2, top, bw-4, bot-top+1, palette[pi])
			cx := x0 + bw/2
			lineV(img, cx, y(b.hi), y(b.lo), black)
			lineH(img, cx-5, cx+5, y(b.hi), black)
			lineH(img, cx-5, cx+5, y(b.lo), black)
			label := fmt.Sprintf("%.2f", b.v)
			drawText(img, cx-textWidth(label, 1)/2, y(math.Max(b.hi, b.v))-12, label, 1, black)
		}
		name := p.groups[gi]
		drawText(img, plot.Min.X+gi*gw+gw/2-textWidth(name, 2)/2, plot.Max.Y+12, name, 2, black)
	}
	if p.target > 0 && p.target <= hi {
		dashH(img, plot.Min.X, plot.Max.X, y(p.target), red)
	}
}

func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 0.5
	}
	e := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*e >= raw {
			return m * e
		}
	}
	return 10 * e
}

func fill(img *image.RGBA, x, y, w, h int, c color.Color) {
	draw.Draw(img, image.Rect(x, y, x+w, y+h), &image.Uniform{c}, image.Point{}, draw.Src)
}

func lineH(img *image.RGBA, x0, x1, y int, c color.Color) {
	for x := x0; x <= x1; x++ {
		img.Set(x, y, c)
	}
}

func dashH(img *image.RGBA, x0, x1, y int, c color.Color) {
	for x := x0; x <= x1; x++ {
		if (x/6)%2 == 0 {
			img.Set(x, y, c)
			img.Set(x, y+1, c)
		}
	}
}

func lineV(img *image.RGBA, x, y0, y1 int, c color.Color) {
	if y0 > y1 {
		y0, y1 = y1, y0
	}
	for y := y0; y <= y1; y++ {
		img.Set(x, y, c)
	}
}
