//! The seed's two pictures in one plot: body bytes received over time for every mode of a
//! [`Comparison`](super::Comparison), drawn with plotters' SVG backend.

use std::path::Path;

use plotters::prelude::*;

use super::{CompareError, Comparison, MB};

const COLOURS: [RGBColor; 4] =
    [RGBColor(214, 39, 40), RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44)];

/// Writes the chart to `path`.
pub fn draw(comparison: &Comparison, path: &Path) -> Result<(), CompareError> {
    plot(comparison, path).map_err(|e| CompareError::Svg { path: path.to_owned(), reason: e.to_string() })
}

fn plot(comparison: &Comparison, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let modes: Vec<_> = comparison.pairs.iter().flat_map(|p| [&p.buffered, &p.streamed]).collect();
    let max_ms = modes.iter().flat_map(|m| m.curve.last()).map(|&(ms, _)| ms).fold(1.0, f64::max);
    let max_mb = modes.iter().map(|m| m.bytes as f64 / MB).fold(0.001, f64::max);

    let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("bytes received over time (median run of each mode)", ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_ms * 1.02, 0.0..max_mb * 1.05)?;
    chart.configure_mesh().x_desc("ms since the request was sent").y_desc("MB received").draw()?;
    for (mode, colour) in modes.iter().zip(COLOURS.iter().cycle()) {
        let colour = *colour;
        // A step line: nothing arrives between two reads.
        let mut points = Vec::with_capacity(mode.curve.len() * 2);
        let mut last = 0.0;
        for &(ms, bytes) in &mode.curve {
            points.push((ms, last));
            last = bytes as f64 / MB;
            points.push((ms, last));
        }
        let label = format!("{} (first byte {:.1} ms)", mode.path, mode.ttfb_ms);
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
