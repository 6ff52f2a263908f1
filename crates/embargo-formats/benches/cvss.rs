//! `cargo bench -p embargo-formats`: parse + score throughput for CVSS v3.1 and v4.0 vectors
//! (full vectors with threat, environmental and supplemental metrics), in vectors a second.
//! It also writes the vectors to `target/cvss-bench-*.txt`, so `scripts/bench-cvss` can time
//! the PyPI `cvss` package on the very same input.

use std::hint::black_box;
use std::time::Instant;

use embargo_formats::cvss::parse;

const V3: &[(&str, &[&str])] = &[
    ("AV", &["N", "A", "L", "P"]),
    ("AC", &["L", "H"]),
    ("PR", &["N", "L", "H"]),
    ("UI", &["N", "R"]),
    ("S", &["U", "C"]),
    ("C", &["H", "L", "N"]),
    ("I", &["H", "L", "N"]),
    ("A", &["H", "L", "N"]),
    ("E", &["X", "H", "F", "P", "U"]),
    ("RL", &["X", "U", "W", "T", "O"]),
    ("RC", &["X", "C", "R", "U"]),
    ("CR", &["X", "H", "M", "L"]),
    ("IR", &["X", "H", "M", "L"]),
    ("AR", &["X", "H", "M", "L"]),
    ("MAV", &["X", "N", "A", "L", "P"]),
    ("MAC", &["X", "L", "H"]),
    ("MPR", &["X", "N", "L", "H"]),
    ("MUI", &["X", "N", "R"]),
    ("MS", &["X", "U", "C"]),
    ("MC", &["X", "H", "L", "N"]),
    ("MI", &["X", "H", "L", "N"]),
    ("MA", &["X", "H", "L", "N"]),
];

const V4: &[(&str, &[&str])] = &[
    ("AV", &["N", "A", "L", "P"]),
    ("AC", &["L", "H"]),
    ("AT", &["N", "P"]),
    ("PR", &["N", "L", "H"]),
    ("UI", &["N", "P", "A"]),
    ("VC", &["H", "L", "N"]),
    ("VI", &["H", "L", "N"]),
    ("VA", &["H", "L", "N"]),
    ("SC", &["H", "L", "N"]),
    ("SI", &["H", "L", "N"]),
    ("SA", &["H", "L", "N"]),
    ("E", &["X", "A", "P", "U"]),
    ("CR", &["X", "H", "M", "L"]),
    ("IR", &["X", "H", "M", "L"]),
    ("AR", &["X", "H", "M", "L"]),
    ("MAV", &["X", "N", "A", "L", "P"]),
    ("MAC", &["X", "L", "H"]),
    ("MAT", &["X", "N", "P"]),
    ("MPR", &["X", "N", "L", "H"]),
    ("MUI", &["X", "N", "P", "A"]),
    ("MVC", &["X", "H", "L", "N"]),
    ("MVI", &["X", "H", "L", "N"]),
    ("MVA", &["X", "H", "L", "N"]),
    ("MSC", &["X", "H", "L", "N"]),
    ("MSI", &["X", "S", "H", "L", "N"]),
    ("MSA", &["X", "S", "H", "L", "N"]),
    ("S", &["X", "N", "P"]),
    ("AU", &["X", "N", "Y"]),
    ("R", &["X", "A", "U", "I"]),
    ("V", &["X", "D", "C"]),
    ("RE", &["X", "L", "M", "H"]),
    ("U", &["X", "Clear", "Green", "Amber", "Red"]),
];

fn vectors(table: &[(&str, &[&str])], prefix: &str, n: usize, seed: u64) -> Vec<String> {
    let mut x = seed;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|_| {
            let mut s = prefix.to_owned();
            for (name, values) in table {
                let pick = values
                    .get(usize::try_from(next() % values.len() as u64).unwrap_or(0))
                    .copied()
                    .unwrap_or("X");
                s.push_str(&format!("/{name}:{pick}"));
            }
            s
        })
        .collect()
}

fn run(label: &str, vs: &[String]) {
    // Warm up, then the best of five passes.
    for v in vs.iter().take(1000) {
        black_box(parse(v).map(|c| c.base_score()).ok());
    }
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for v in vs {
            black_box(parse(black_box(v)).map(|c| c.base_score()).ok());
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{label}: {} vectors in {best:.3} s = {:.0} vectors/s (parse + score)",
        vs.len(),
        vs.len() as f64 / best
    );
}

fn main() {
    let v3 = vectors(V3, "CVSS:3.1", 100_000, 0x1234_5678);
    let v4 = vectors(V4, "CVSS:4.0", 100_000, 0x8765_4321);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    let _ = std::fs::write(dir.join("cvss-bench-v31.txt"), v3.join("\n"));
    let _ = std::fs::write(dir.join("cvss-bench-v40.txt"), v4.join("\n"));
    run("CVSS v3.1", &v3);
    run("CVSS v4.0", &v4);
}
