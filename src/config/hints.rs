//! What an unknown configuration key is answered with: Maxwell's options that maxwell-ha does
//! not take, each with what to do instead, and the edit distance behind "did you mean".

pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Maxwell's options that maxwell-ha does not take, with what to do instead (a user coming
/// from Maxwell gets this rather than a guess at a similarly spelled key).
pub(super) const MAXWELL_ONLY: &[(&str, &str)] = &[
    ("output_file", "use producer=stdout and redirect the output"),
    ("custom_producer.factory", "only producer=stdout and producer=kafka exist"),
];

