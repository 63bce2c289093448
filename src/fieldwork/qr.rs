//! QR codes of invitation URLs as inline SVG, for printed letters.
//!
//! The `qrcode` crate encodes; the drawing is ours: one path with a
//! rectangle per run of dark modules, about a third of the size of the
//! crate's own SVG (one square per module), which matters when a batch
//! prints hundreds of letters into one page. Only presentation attributes
//! are used, so the page's Content-Security-Policy (no inline styles) holds.

use qrcode::{Color, EcLevel, QrCode};

/// Light modules around the symbol, as the standard asks.
const QUIET_ZONE: usize = 4;

#[derive(Debug, thiserror::Error)]
#[error("cannot draw a QR code of {length} bytes: {message}")]
pub struct QrError {
    length: usize,
    message: String,
}

/// An `<svg>` element drawing `text` as a QR code (error correction level
/// M, readable with 15% of it damaged), `size_mm` wide when printed, with
/// `label` as its accessible name.
pub fn qr_svg(text: &str, size_mm: u32, label: &str) -> Result<String, QrError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|e| QrError {
        length: text.len(),
        message: e.to_string(),
    })?;
    let width = code.width();
    let colors = code.to_colors();
    let side = width + 2 * QUIET_ZONE;
    let mut path = String::with_capacity(width * width / 2);
    for y in 0..width {
        let row = &colors[y * width..(y + 1) * width];
        let mut x = 0;
        while x < width {
            if row[x] == Color::Dark {
                let start = x;
                while x < width && row[x] == Color::Dark {
                    x += 1;
                }
                path.push_str(&format!(
                    "M{} {}h{}v1h-{}z",
                    start + QUIET_ZONE,
                    y + QUIET_ZONE,
                    x - start,
                    x - start
                ));
            } else {
                x += 1;
            }
        }
    }
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"qr\" role=\"img\" aria-label=\"{label}\" \
         width=\"{size_mm}mm\" height=\"{size_mm}mm\" viewBox=\"0 0 {side} {side}\" shape-rendering=\"crispEdges\">\
         <title>{label}</title><rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/>\
         <path fill=\"#000\" d=\"{path}\"/></svg>",
        label = handlebars::html_escape(label)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Read the drawn modules back from the path and compare with the encoder.
    #[test]
    fn the_drawing_has_exactly_the_dark_modules_of_the_code() {
        let url = "https://survey.example.gov.cn/s/livability?code=7K3M-Q9TX-2HBR";
        let svg = qr_svg(url, 40, "QR <code>").unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("aria-label=\"QR &lt;code&gt;\""));
        assert!(!svg.contains("style="), "no inline styles under our CSP");
        let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M).unwrap();
        let width = code.width();
        let d = svg.split(" d=\"").nth(1).unwrap().split('"').next().unwrap();
        let mut drawn = vec![false; width * width];
        for run in d.split('M').filter(|s| !s.is_empty()) {
            let (xy, rest) = run.split_once('h').unwrap();
            let (x, y) = xy.split_once(' ').unwrap();
            let len: usize = rest.split('v').next().unwrap().parse().unwrap();
            let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
            for k in 0..len {
                drawn[(y - QUIET_ZONE) * width + x - QUIET_ZONE + k] = true;
            }
        }
        let expected: Vec<bool> = code.to_colors().iter().map(|c| *c == Color::Dark).collect();
        assert_eq!(drawn, expected);
        assert!(svg.len() < 6_000, "{} bytes", svg.len());
    }
}
