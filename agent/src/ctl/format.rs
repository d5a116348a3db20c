//! virsh-compatible rendering of control replies (`tools/vsh-table.c` and
//! the `cmd*` functions of virsh 9.0.0), so scripts written against virsh
//! output keep working.

use serde_json::Value;

/// virsh's table: a leading space, columns left-justified and separated by
/// three spaces, no trailing spaces; a dash line as wide as the columns.
/// `quiet` (virsh -q) leaves the header out and sizes columns by the data.
pub fn table(header: &[&str], rows: &[Vec<String>], quiet: bool) -> String {
    let mut widths: Vec<usize> = header
        .iter()
        .map(|h| if quiet { 0 } else { h.chars().count() })
        .collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    if !quiet {
        let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
        push_row(&mut out, &header, &widths);
        out.push_str(&"-".repeat(widths.iter().map(|w| w + 3).sum()));
        out.push('\n');
    }
    for row in rows {
        push_row(&mut out, row, &widths);
    }
    out
}

fn push_row(out: &mut String, row: &[String], widths: &[usize]) {
    for (i, cell) in row.iter().enumerate() {
        out.push(' ');
        out.push_str(cell);
        if i + 1 < row.len() {
            out.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
        }
    }
    out.push('\n');
}

/// `"%-15s %s\n"` label lines as dominfo, pool-info and net-info print them.
pub fn labelled(lines: &[(&str, String)], width: usize) -> String {
    lines
        .iter()
        .map(|(label, value)| format!("{label:<width$} {value}\n"))
        .collect()
}

/// virsh's `vshPrettyCapacity` with `%.2lf`: binary units.
pub fn capacity(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.2} {}", UNITS[unit])
}

pub fn yes_no(v: &Value) -> String {
    if v.as_bool().unwrap_or(false) { "yes" } else { "no" }.to_string()
}

pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

pub fn list(data: &Value, quiet: bool) -> String {
    let rows: Vec<Vec<String>> = data["domains"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| vec![text(&d["id"]), text(&d["name"]), text(&d["state_human"])])
                .collect()
        })
        .unwrap_or_default();
    table(&["Id", "Name", "State"], &rows, quiet)
}

pub fn dominfo(d: &Value) -> String {
    let cpu_time = d["cpu_time_ns"].as_u64().unwrap_or(0) as f64 / 1e9;
    let mut lines = vec![
        ("Id:", text(&d["id"])),
        ("Name:", text(&d["name"])),
        ("UUID:", text(&d["uuid"])),
        ("OS Type:", text(&d["os_type"])),
        ("State:", text(&d["state_human"])),
        ("CPU(s):", text(&d["vcpus"])),
    ];
    if cpu_time > 0.0 {
        lines.push(("CPU time:", format!("{cpu_time:.1}s")));
    }
    lines.extend([
        ("Max memory:", format!("{} KiB", text(&d["max_memory_kib"]))),
        ("Used memory:", format!("{} KiB", text(&d["used_memory_kib"]))),
        ("Persistent:", yes_no(&d["persistent"])),
        (
            "Autostart:",
            if d["autostart"].as_bool().unwrap_or(false) {
                "enable"
            } else {
                "disable"
            }
            .to_string(),
        ),
        ("Managed save:", yes_no(&d["managed_save"])),
    ]);
    labelled(&lines, 15)
}

pub fn domstate(d: &Value, reason: bool) -> String {
    if reason {
        format!("{} ({})\n", text(&d["state_human"]), text(&d["reason_human"]))
    } else {
        format!("{}\n", text(&d["state_human"]))
    }
}

pub fn domstats(data: &Value) -> String {
    let blocks: Vec<String> = data["domains"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| {
                    let mut block = format!("Domain: '{}'\n", text(&d["name"]));
                    for pair in d["stats"].as_array().into_iter().flatten() {
                        block.push_str(&format!("  {}={}\n", text(&pair[0]), text(&pair[1])));
                    }
                    block
                })
                .collect()
        })
        .unwrap_or_default();
    blocks.join("\n")
}

pub fn nodeinfo(n: &Value) -> String {
    let mut lines = vec![("CPU model:", text(&n["model"])), ("CPU(s):", text(&n["cpus"]))];
    if n["mhz"].as_u64().unwrap_or(0) != 0 {
        lines.push(("CPU frequency:", format!("{} MHz", text(&n["mhz"]))));
    }
    lines.extend([
        ("CPU socket(s):", text(&n["sockets"])),
        ("Core(s) per socket:", text(&n["cores"])),
        ("Thread(s) per core:", text(&n["threads"])),
        ("NUMA cell(s):", text(&n["nodes"])),
        ("Memory size:", format!("{} KiB", text(&n["memory_kib"]))),
    ]);
    labelled(&lines, 20)
}

/// `status` (ours; virsh has none): the driver URI and its link.
pub fn status(s: &Value) -> String {
    let mut lines = vec![("URI:", text(&s["uri"]))];
    if s["link"] == "down" {
        lines.push((
            "Connection:",
            format!("down since {} ({})", text(&s["since"]), text(&s["reason"])),
        ));
        let mut attempts = format!("{} attempt(s)", text(&s["attempts"]));
        if let Some(err) = s["last_error"].as_str() {
            attempts.push_str(&format!(", last error: {err}"));
        }
        lines.push(("Reconnecting:", attempts));
        lines.push(("Snapshot:", "stale (last known state)".into()));
    } else {
        lines.push(("Connection:", "up".into()));
        lines.push(("Snapshot:", "current".into()));
    }
    labelled(&lines, 15)
}

pub fn pool_list(data: &Value, quiet: bool) -> String {
    let rows: Vec<Vec<String>> = data["pools"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    let state = if p["active"].as_bool().unwrap_or(false) {
                        "active"
                    } else {
                        "inactive"
                    };
                    vec![text(&p["name"]), state.to_string(), yes_no(&p["autostart"])]
                })
                .collect()
        })
        .unwrap_or_default();
    table(&["Name", "State", "Autostart"], &rows, quiet)
}

pub fn pool_info(p: &Value) -> String {
    let mut lines = vec![
        ("Name:", text(&p["name"])),
        ("UUID:", text(&p["uuid"])),
        ("State:", text(&p["state_human"])),
        ("Persistent:", yes_no(&p["persistent"])),
        ("Autostart:", yes_no(&p["autostart"])),
    ];
    if p["active"].as_bool().unwrap_or(false) {
        lines.extend([
            ("Capacity:", capacity(p["capacity_bytes"].as_u64().unwrap_or(0))),
            ("Allocation:", capacity(p["allocation_bytes"].as_u64().unwrap_or(0))),
            ("Available:", capacity(p["available_bytes"].as_u64().unwrap_or(0))),
        ]);
    }
    labelled(&lines, 15)
}

pub fn vol_list(data: &Value, quiet: bool) -> String {
    let rows: Vec<Vec<String>> = data["volumes"]
        .as_array()
        .map(|a| a.iter().map(|v| vec![text(&v["name"]), text(&v["path"])]).collect())
        .unwrap_or_default();
    table(&["Name", "Path"], &rows, quiet)
}

pub fn net_list(data: &Value, quiet: bool) -> String {
    let rows: Vec<Vec<String>> = data["networks"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|n| {
                    let state = if n["active"].as_bool().unwrap_or(false) {
                        "active"
                    } else {
                        "inactive"
                    };
                    vec![
                        text(&n["name"]),
                        state.to_string(),
                        yes_no(&n["autostart"]),
                        yes_no(&n["persistent"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    table(&["Name", "State", "Autostart", "Persistent"], &rows, quiet)
}

pub fn net_info(n: &Value) -> String {
    let mut lines = vec![
        ("Name:", text(&n["name"])),
        ("UUID:", text(&n["uuid"])),
        ("Active:", yes_no(&n["active"])),
        ("Persistent:", yes_no(&n["persistent"])),
        ("Autostart:", yes_no(&n["autostart"])),
    ];
    if n["bridge"].is_string() {
        lines.push(("Bridge:", text(&n["bridge"])));
    }
    labelled(&lines, 15)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_matches_virsh_byte_for_byte() {
        let data = json!({"domains": [{"id": 1, "name": "test", "state_human": "running"}]});
        assert_eq!(
            list(&data, false),
            " Id   Name   State\n----------------------\n 1    test   running\n"
        );
        let data = json!({"domains": [{"id": null, "name": "test", "state_human": "shut off"}]});
        assert_eq!(
            list(&data, false),
            " Id   Name   State\n-----------------------\n -    test   shut off\n"
        );
        assert_eq!(
            list(&json!({"domains": []}), false),
            " Id   Name   State\n--------------------\n"
        );
    }

    #[test]
    fn pool_and_net_tables_match_virsh() {
        let pools = json!({"pools": [{"name": "default-pool", "active": true, "autostart": false}]});
        assert_eq!(
            pool_list(&pools, false),
            " Name           State    Autostart\n------------------------------------\n default-pool   active   no\n"
        );
        let nets = json!({"networks": [{"name": "default", "active": true, "autostart": false, "persistent": true}]});
        assert_eq!(
            net_list(&nets, false),
            " Name      State    Autostart   Persistent\n--------------------------------------------\n default   active   no          yes\n"
        );
    }

    #[test]
    fn capacities_use_binary_units() {
        assert_eq!(capacity(0), "0.00 B");
        assert_eq!(capacity(100 * 1024 * 1024 * 1024), "100.00 GiB");
        assert_eq!(capacity(512 * 1024 * 1024), "512.00 MiB");
    }

    #[test]
    fn nodeinfo_matches_virsh() {
        let n = json!({"model": "i686", "cpus": 16, "mhz": 1400, "sockets": 2, "cores": 2, "threads": 2, "nodes": 2, "memory_kib": 3145728});
        assert_eq!(
            nodeinfo(&n),
            "CPU model:           i686\nCPU(s):              16\nCPU frequency:       1400 MHz\nCPU socket(s):       2\nCore(s) per socket:  2\nThread(s) per core:  2\nNUMA cell(s):        2\nMemory size:         3145728 KiB\n"
        );
    }
}
