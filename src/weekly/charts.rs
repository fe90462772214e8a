//! The report's two SVG charts, drawn with plotters' SVG backend (no font
//! library: text stays `<text>` for the browser to set).
