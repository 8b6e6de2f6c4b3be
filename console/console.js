// Placeholder: the console's real script replaces this file.
"use strict";
document.getElementById("status").textContent = "hookd console (placeholder)";
