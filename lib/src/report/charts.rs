//! The bulletin's charts as inline SVG: a line chart (a region's intensity
//! against its plan's path) and a horizontal bar chart (CO2 by sector, the
//! energy mix). Written out directly rather than with a plotting crate: the
//! charts are few and simple, the text stays `<text>` in the reader's CJK
//! fonts (no font files to measure labels with), and the output is the same
//! bytes on every run.

use std::fmt::Write;

/// The font families of every label: the reader's system draws them.
pub(crate) const FONT: &str =
    "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif";

/// One line of a line chart.
pub(crate) struct Series<'a> {
    pub name: &'a str,
    pub colour: &'a str,
    pub dashed: bool,
    pub points: Vec<(i32, f64)>,
}

/// Escape text for SVG/HTML.
pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A number with at most `d` decimals and no trailing zeros.
fn num(v: f64, d: usize) -> String {
    let s = format!("{v:.d$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// "Nice" ticks covering [lo, hi].
fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let span = (hi - lo).abs().max(f64::MIN_POSITIVE);
    let raw = span / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let start = (lo / step).floor() * step;
    let mut out = Vec::new();
    let mut t = start;
    while t <= hi + step * 1e-9 && out.len() < 20 {
        out.push(t);
        t += step;
    }
    out
}

/// A line chart of yearly values; empty when no series has a point.
pub(crate) fn line_chart(title: &str, unit: &str, series: &[Series]) -> String {
    let pts: Vec<(i32, f64)> = series.iter().flat_map(|s| s.points.clone()).collect();
    if pts.is_empty() {
        return String::new();
    }
    let (w, h, left, right, top, bottom) = (640.0, 300.0, 64.0, 16.0, 36.0, 56.0);
    let x0 = pts.iter().map(|p| p.0).min().unwrap_or(0);
    let x1 = pts.iter().map(|p| p.0).max().unwrap_or(0).max(x0 + 1);
    let (mut y0, mut y1) = pts
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let pad = ((y1 - y0).abs() * 0.1).max(y1.abs() * 0.02).max(1e-9);
    y0 = (y0 - pad).min(if y0 >= 0.0 {
        0.0f64.max(y0 - pad)
    } else {
        y0 - pad
    });
    y1 += pad;
    let ys = ticks(y0, y1, 5);
    let (ylo, yhi) = (ys[0].min(y0), ys[ys.len() - 1].max(y1));
    let px = |x: i32| left + (f64::from(x - x0)) / f64::from(x1 - x0) * (w - left - right);
    let py = |y: f64| top + (yhi - y) / (yhi - ylo) * (h - top - bottom);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{t}\" font-family=\"{FONT}\" font-size=\"12\">\
<title>{t}</title><text x=\"{left}\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{t}</text>\
<text x=\"{r}\" y=\"20\" text-anchor=\"end\" fill=\"#555\">{u}</text>",
        t = esc(title),
        u = esc(unit),
        r = w - right
    );
    for y in &ys {
        let _ = write!(
            s,
            "<line x1=\"{left}\" x2=\"{x2}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#ddd\"/><text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\" fill=\"#555\">{v}</text>",
            x2 = w - right,
            yy = py(*y),
            tx = left - 6.0,
            ty = py(*y) + 4.0,
            v = num(*y, 4)
        );
    }
    for x in x0..=x1 {
        let _ = write!(
            s,
            "<text x=\"{xx:.1}\" y=\"{ty}\" text-anchor=\"middle\" fill=\"#555\">{x}</text>",
            xx = px(x),
            ty = h - bottom + 18.0
        );
    }
    for (i, se) in series.iter().enumerate() {
        if se.points.is_empty() {
            continue;
        }
        let path: Vec<String> = se
            .points
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
            .collect();
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"2\"{d} points=\"{p}\"/>",
            c = se.colour,
            d = if se.dashed {
                " stroke-dasharray=\"6 4\""
            } else {
                ""
            },
            p = path.join(" ")
        );
        for (x, y) in &se.points {
            let _ = write!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"><title>{} {}: {}</title></circle>",
                px(*x),
                py(*y),
                se.colour,
                esc(se.name),
                x,
                num(*y, 4)
            );
        }
        let lx = left + i as f64 * 200.0;
        let _ = write!(
            s,
            "<line x1=\"{lx}\" x2=\"{lx2}\" y1=\"{ly}\" y2=\"{ly}\" stroke=\"{c}\" stroke-width=\"2\"{d}/><text x=\"{tx}\" y=\"{ty}\">{n}</text>",
            lx2 = lx + 24.0,
            ly = h - 14.0,
            c = se.colour,
            d = if se.dashed {
                " stroke-dasharray=\"6 4\""
            } else {
                ""
            },
            tx = lx + 30.0,
            ty = h - 10.0,
            n = esc(se.name)
        );
    }
    s.push_str("</svg>");
    s
}

/// A horizontal bar chart: one bar per (label, value), negative values to the
/// left of the axis.
pub(crate) fn bar_chart(title: &str, unit: &str, bars: &[(String, f64, &str)]) -> String {
    if bars.is_empty() {
        return String::new();
    }
    let (w, left, right, top, row) = (640.0, 190.0, 90.0, 36.0, 24.0);
    let h = top + row * bars.len() as f64 + 16.0;
    let lo = bars.iter().map(|b| b.1).fold(0.0f64, f64::min);
    let hi = bars.iter().map(|b| b.1).fold(0.0f64, f64::max);
    let span = (hi - lo).max(1e-9);
    let px = |v: f64| left + (v - lo) / span * (w - left - right);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{t}\" font-family=\"{FONT}\" font-size=\"12\">\
<title>{t}</title><text x=\"8\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{t}</text>\
<text x=\"{r}\" y=\"20\" text-anchor=\"end\" fill=\"#555\">{u}</text>",
        t = esc(title),
        u = esc(unit),
        r = w - 8.0
    );
    let zero = px(0.0);
    for (i, (label, v, colour)) in bars.iter().enumerate() {
        let y = top + row * i as f64;
        let (x, bw) = if *v >= 0.0 {
            (zero, px(*v) - zero)
        } else {
            (px(*v), zero - px(*v))
        };
        let _ = write!(
            s,
            "<text x=\"{lx}\" y=\"{ty:.1}\" text-anchor=\"end\">{l}</text><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bh}\" fill=\"{colour}\"><title>{l}: {v}</title></rect><text x=\"{vx:.1}\" y=\"{ty:.1}\" fill=\"#333\">{vt}</text>",
            lx = left - 8.0,
            ty = y + row * 0.65,
            l = esc(label),
            bh = row - 6.0,
            v = num(*v, 1),
            vx = px(hi.max(0.0)) + 6.0,
            vt = num(*v, 0)
        );
    }
    let _ = write!(
        s,
        "<line x1=\"{zero:.1}\" x2=\"{zero:.1}\" y1=\"{top}\" y2=\"{yb:.1}\" stroke=\"#333\"/></svg>",
        yb = h - 16.0
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_chart_draws_each_series_and_escapes_text() {
        let svg = line_chart(
            "能耗强度 <A&B>",
            "tce/万元",
            &[
                Series {
                    name: "实际",
                    colour: "#1f5fa8",
                    dashed: false,
                    points: vec![(2020, 1.0), (2021, 0.9)],
                },
                Series {
                    name: "目标路径",
                    colour: "#c0392b",
                    dashed: true,
                    points: vec![(2020, 1.0), (2025, 0.8)],
                },
            ],
        );
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("能耗强度 &lt;A&amp;B&gt;"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        // 2 + 2 points, each a circle with its value
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(svg.contains("stroke-dasharray"));
        assert!(line_chart("x", "", &[]).is_empty());
    }

    #[test]
    fn bars_left_of_the_axis_are_negative() {
        let svg = bar_chart(
            "CO2",
            "t",
            &[
                ("电力".into(), -100.0, "#888"),
                ("化工".into(), 300.0, "#888"),
            ],
        );
        // axis at x = 190 + 100 / 400 × 360 = 280
        assert!(svg.contains("x1=\"280.0\""), "{svg}");
        assert!(svg.contains("<title>电力: -100</title>"));
    }

    #[test]
    fn ticks_are_round_numbers() {
        // a span of 1 in 5 steps: 0.2 apart, labelled to 4 decimals
        let t: Vec<String> = ticks(0.0, 1.0, 5).iter().map(|v| num(*v, 4)).collect();
        assert_eq!(t, ["0", "0.2", "0.4", "0.6", "0.8", "1"]);
    }
}
