"""The service's API documentation page, self-contained: no CDN, no network, so it works on an air-gapped host.

FastAPI's own ``/docs`` loads Swagger UI's script and style sheet from a CDN and is blank without one. This page is
three small files served by the app itself (HTML, a script, a style sheet); the script reads ``/openapi.json``
and lists every endpoint with its parameters, request body, answers and the schemas they refer to, with a *Try it*
form per endpoint that sends the request (with the API key typed at the top, if any) and shows the answer. It is
plain DOM code: every text from the schema or from an answer is inserted as text, never as HTML.
"""

from __future__ import annotations

import html

__all__ = [
    "DOCS_PATH",
    "SCRIPT_PATH",
    "STYLE_PATH",
    "CONTENT_SECURITY_POLICY",
    "docs_html",
    "DOCS_SCRIPT",
    "DOCS_STYLE",
]

DOCS_PATH = "/docs"
SCRIPT_PATH = "/docs/docs.js"
STYLE_PATH = "/docs/docs.css"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""Sent with the page: it may load nothing but the app's own files, whatever a schema description contains."""


def docs_html(*, title: str, openapi_url: str, root_path: str = "") -> str:
    """Return the page's HTML.

    Args:
        title: the page title (the app's).
        openapi_url: path of the OpenAPI JSON, without ``root_path``.
        root_path: the ASGI root path (a reverse proxy's prefix), prepended to every URL of the page.
    """
    prefix = html.escape(root_path.rstrip("/"), quote=True)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} — API</title>
<link rel="stylesheet" href="{prefix}{STYLE_PATH}">
</head>
<body data-openapi="{prefix}{html.escape(openapi_url, quote=True)}" data-root="{prefix}">
<header><h1>{html.escape(title)}</h1><p id="summary">Loading the API description…</p>
<p><label>API key, sent by <em>Try it</em> when the server needs one:
<input id="api-key" type="password" autocomplete="off" size="40"></label></p></header>
<nav id="toc"></nav>
<main id="api"></main>
<noscript><p>This page needs JavaScript; the raw description is at
<a href="{prefix}{html.escape(openapi_url, quote=True)}">{html.escape(openapi_url)}</a>.</p></noscript>
<script src="{prefix}{SCRIPT_PATH}"></script>
</body>
</html>
"""


DOCS_STYLE = """\
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 70rem; padding: 0 1rem 3rem; color: #1b1b1b; }
header { border-bottom: 1px solid #ccc; margin-bottom: 1rem; }
h2 { margin-top: 2rem; border-bottom: 1px solid #eee; }
h3 { font-size: 1.05rem; margin: 0; }
code, pre, .path { font-family: ui-monospace, monospace; }
pre { background: #f6f6f6; padding: .5rem; overflow-x: auto; white-space: pre-wrap; }
section.op { border: 1px solid #ddd; border-radius: 4px; margin: .75rem 0; padding: .5rem .75rem; }
.method { display: inline-block; min-width: 4rem; font-weight: bold; text-transform: uppercase; }
.get { color: #0b6e99; } .post { color: #2b7a0b; } .put, .patch { color: #9a6700; } .delete { color: #b3261e; }
.desc { white-space: pre-wrap; color: #333; }
.lock { color: #9a6700; font-size: .85rem; margin-left: .5rem; }
table { border-collapse: collapse; margin: .4rem 0; width: 100%; font-size: .92rem; }
th, td { border: 1px solid #ddd; padding: .25rem .4rem; text-align: left; vertical-align: top; }
th { background: #fafafa; }
nav a { margin-right: .75rem; }
.muted { color: #666; }
details.try { margin-top: .5rem; }
details.try summary { cursor: pointer; color: #0b6e99; }
details.try label { display: block; margin: .3rem 0; }
details.try textarea { width: 100%; min-height: 8rem; font-family: ui-monospace, monospace; }
.status { font-weight: bold; }
"""

DOCS_SCRIPT = r"""
"use strict";
(function () {
  var spec = null;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function refName(ref) { return ref.split("/").pop(); }

  // A short type expression: "string", "array of WordJSON", "integer ≥ 1", "'word' | 'sentence'".
  function typeOf(schema) {
    if (!schema) return el("span", {}, ["any"]);
    if (schema.$ref) {
      var name = refName(schema.$ref);
      return el("a", {href: "#schema-" + name}, [name]);
    }
    var alternatives = schema.anyOf || schema.oneOf;
    if (alternatives) {
      var span = el("span");
      alternatives.forEach(function (alt, i) {
        if (i) span.appendChild(document.createTextNode(" | "));
        span.appendChild(typeOf(alt));
      });
      return span;
    }
    if (schema.const !== undefined) return el("code", {}, [JSON.stringify(schema.const)]);
    if (schema.enum) return el("code", {}, [schema.enum.map(function (v) { return JSON.stringify(v); }).join(" | ")]);
    if (schema.type === "array") {
      var items = el("span", {}, ["array of "]);
      items.appendChild(typeOf(schema.items));
      return items;
    }
    var text = schema.type || "object";
    if (schema.format) text += " (" + schema.format + ")";
    return el("span", {}, [text]);
  }

  function constraints(schema) {
    var parts = [];
    [["minimum", "≥ "], ["exclusiveMinimum", "> "], ["maximum", "≤ "], ["exclusiveMaximum", "< "],
     ["minLength", "length ≥ "], ["maxLength", "length ≤ "], ["minItems", "items ≥ "], ["maxItems", "items ≤ "]]
      .forEach(function (pair) { if (schema[pair[0]] !== undefined) parts.push(pair[1] + schema[pair[0]]); });
    if (schema.default !== undefined) parts.push("default " + JSON.stringify(schema.default));
    return parts.join(", ");
  }

  function propertiesTable(schema) {
    var props = schema.properties || {};
    var required = schema.required || [];
    var names = Object.keys(props);
    if (!names.length) return el("p", {"class": "muted"}, [schema.type ? "Type: " + schema.type : "No fields."]);
    var rows = names.map(function (name) {
      var prop = props[name];
      return el("tr", {}, [
        el("td", {}, [el("code", {}, [name])]),
        el("td", {}, [typeOf(prop)]),
        el("td", {}, [required.indexOf(name) >= 0 ? "yes" : ""]),
        el("td", {}, [constraints(prop)]),
        el("td", {"class": "desc"}, [prop.description || prop.title || ""]),
      ]);
    });
    var head = el("tr", {}, ["field", "type", "required", "limits", "description"].map(function (h) {
      return el("th", {}, [h]);
    }));
    return el("table", {}, [el("thead", {}, [head]), el("tbody", {}, rows)]);
  }

  function parametersTable(parameters) {
    var head = el("tr", {}, ["parameter", "in", "type", "required", "limits", "description"].map(function (h) {
      return el("th", {}, [h]);
    }));
    var rows = parameters.map(function (p) {
      var schema = p.schema || {};
      return el("tr", {}, [
        el("td", {}, [el("code", {}, [p.name])]),
        el("td", {}, [p.in]),
        el("td", {}, [typeOf(schema)]),
        el("td", {}, [p.required ? "yes" : ""]),
        el("td", {}, [constraints(schema)]),
        el("td", {"class": "desc"}, [p.description || schema.description || ""]),
      ]);
    });
    return el("table", {}, [el("thead", {}, [head]), el("tbody", {}, rows)]);
  }

  function contentList(content) {
    var list = el("ul");
    Object.keys(content || {}).forEach(function (mediaType) {
      var item = el("li", {}, [el("code", {}, [mediaType]), ": "]);
      var schema = content[mediaType].schema;
      if (schema && schema.$ref) {
        item.appendChild(typeOf(schema));
      } else if (schema && schema.properties) {
        item.appendChild(propertiesTable(schema));
      } else {
        item.appendChild(typeOf(schema));
      }
      list.appendChild(item);
    });
    return list;
  }

  function operation(path, method, op) {
    var anchor = "op-" + (op.operationId || (method + path)).replace(/[^A-Za-z0-9_-]/g, "_");
    var title = el("h3", {}, [
      el("span", {"class": "method " + method}, [method]),
      el("span", {"class": "path"}, [path]),
      op.summary ? " — " + op.summary : "",
    ]);
    if (op.security && op.security.length) title.appendChild(el("span", {"class": "lock"}, ["API key"]));
    var section = el("section", {"class": "op", id: anchor}, [title]);
    if (op.description) section.appendChild(el("p", {"class": "desc"}, [op.description]));
    if (op.parameters && op.parameters.length) section.appendChild(parametersTable(op.parameters));
    if (op.requestBody) {
      section.appendChild(el("h4", {}, ["Request body" + (op.requestBody.required ? " (required)" : "")]));
      section.appendChild(contentList(op.requestBody.content));
    }
    var responses = op.responses || {};
    var codes = Object.keys(responses);
    if (codes.length) {
      section.appendChild(el("h4", {}, ["Answers"]));
      var rows = codes.map(function (code) {
        var answer = responses[code];
        var cell = el("td");
        var content = answer.content || {};
        Object.keys(content).forEach(function (mediaType, i) {
          if (i) cell.appendChild(document.createTextNode("; "));
          cell.appendChild(el("code", {}, [mediaType]));
          if (content[mediaType].schema) {
            cell.appendChild(document.createTextNode(" "));
            cell.appendChild(typeOf(content[mediaType].schema));
          }
        });
        return el("tr", {}, [el("td", {}, [code]), el("td", {"class": "desc"}, [answer.description || ""]), cell]);
      });
      section.appendChild(el("table", {}, [el("tbody", {}, rows)]));
    }
    section.appendChild(tryIt(path, method, op));
    return section;
  }

  function resolve(schema) {
    if (schema && schema.$ref) return ((spec.components || {}).schemas || {})[refName(schema.$ref)] || {};
    return schema || {};
  }

  function isFile(schema) {
    schema = schema || {};
    return schema.format === "binary" || schema.contentMediaType === "application/octet-stream";
  }

  // A form that sends the request from this page (same origin) and shows the answer as text.
  function tryIt(path, method, op) {
    var details = el("details", {"class": "try"}, [el("summary", {}, ["Try it"])]);
    var form = el("form");
    var fields = [];
    (op.parameters || []).forEach(function (p) {
      var input = el("input", {type: "text", placeholder: p.schema && p.schema.default !== undefined
        ? String(p.schema.default) : ""});
      fields.push({where: p.in, name: p.name, input: input});
      form.appendChild(el("label", {}, [p.name + " (" + p.in + ") ", input]));
    });
    var content = (op.requestBody || {}).content || {};
    var json = content["application/json"];
    var multipart = content["multipart/form-data"];
    var bodyArea = null;
    if (json) {
      var target = resolve(json.schema);
      var example = (target.examples && target.examples[0]) || {};
      bodyArea = el("textarea", {}, []);
      bodyArea.value = JSON.stringify(example, null, 2);
      form.appendChild(el("label", {}, ["JSON body", bodyArea]));
    } else if (multipart) {
      var props = resolve(multipart.schema).properties || {};
      Object.keys(props).forEach(function (name) {
        var prop = props[name];
        var input;
        var enumSource = prop.enum ? prop : (prop.anyOf || []).filter(function (a) { return a.enum; })[0];
        if (isFile(prop) || (prop.type === "array" && isFile(prop.items))) {
          input = el("input", {type: "file"});
          if (prop.type === "array") input.multiple = true;
        } else if (enumSource) {
          input = el("select");
          enumSource.enum.forEach(function (v) { input.appendChild(el("option", {value: v}, [String(v)])); });
          if (prop.default !== undefined) input.value = prop.default;
        } else {
          input = el("input", {type: name.indexOf("password") >= 0 ? "password" : "text",
            placeholder: prop.default !== undefined ? String(prop.default) : ""});
        }
        fields.push({where: "form", name: name, input: input});
        form.appendChild(el("label", {}, [name + " ", input]));
      });
    }
    var status = el("p", {"class": "status"});
    var answer = el("pre");
    form.appendChild(el("button", {type: "submit"}, ["Send " + method.toUpperCase() + " " + path]));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var url = root + path;
      var query = [];
      var headers = {};
      var body = null;
      var key = document.getElementById("api-key").value.trim();
      if (key) headers.Authorization = "Bearer " + key;
      var data = multipart ? new FormData() : null;
      fields.forEach(function (field) {
        var input = field.input;
        if (input.type === "file") {
          Array.prototype.forEach.call(input.files, function (file) { data.append(field.name, file); });
          return;
        }
        if (input.value === "") return;
        if (field.where === "query") query.push(encodeURIComponent(field.name) + "=" + encodeURIComponent(input.value));
        else if (field.where === "header") headers[field.name] = input.value;
        else if (field.where === "path") url = url.replace("{" + field.name + "}", encodeURIComponent(input.value));
        else if (data) data.append(field.name, input.value);
      });
      if (query.length) url += "?" + query.join("&");
      if (bodyArea) { headers["Content-Type"] = "application/json"; body = bodyArea.value; }
      if (data) body = data;
      status.textContent = "Sending…";
      answer.textContent = "";
      var started = performance.now();
      fetch(url, {method: method.toUpperCase(), headers: headers, body: body})
        .then(function (response) {
          return response.text().then(function (text) {
            var took = Math.round(performance.now() - started);
            status.textContent = response.status + " " + response.statusText + " (" + took + " ms)";
            try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (ignored) { /* not JSON */ }
            answer.textContent = text;
          });
        })
        .catch(function (error) { status.textContent = "Failed: " + error.message; });
    });
    form.appendChild(status);
    form.appendChild(answer);
    details.appendChild(form);
    return details;
  }

  function render() {
    var info = spec.info || {};
    document.title = (info.title || "API") + " " + (info.version || "") + " — API";
    var summary = document.getElementById("summary");
    summary.textContent = (info.description || "") + " Version " + (info.version || "?") + ", OpenAPI " +
      (spec.openapi || "?") + ".";
    var main = document.getElementById("api");
    var toc = document.getElementById("toc");
    var byTag = {};
    var tags = [];
    Object.keys(spec.paths || {}).forEach(function (path) {
      var item = spec.paths[path];
      Object.keys(item).forEach(function (method) {
        if (["get", "post", "put", "patch", "delete", "head", "options"].indexOf(method) < 0) return;
        var op = item[method];
        var tag = (op.tags && op.tags[0]) || "other";
        if (!byTag[tag]) { byTag[tag] = []; tags.push(tag); }
        byTag[tag].push(operation(path, method, op));
      });
    });
    tags.forEach(function (tag) {
      toc.appendChild(el("a", {href: "#tag-" + tag}, [tag]));
      main.appendChild(el("h2", {id: "tag-" + tag}, [tag]));
      byTag[tag].forEach(function (section) { main.appendChild(section); });
    });
    var schemes = (spec.components || {}).securitySchemes || {};
    if (Object.keys(schemes).length) {
      main.appendChild(el("h2", {id: "security"}, ["Authentication"]));
      var list = el("ul");
      Object.keys(schemes).forEach(function (name) {
        var scheme = schemes[name];
        var how = scheme.type === "http" ? "Authorization: " + (scheme.scheme || "") + " <key>"
          : (scheme.name || name) + " header";
        list.appendChild(el("li", {}, [el("code", {}, [how]), scheme.description ? " — " + scheme.description : ""]));
      });
      main.appendChild(list);
      toc.appendChild(el("a", {href: "#security"}, ["authentication"]));
    }
    var schemas = (spec.components || {}).schemas || {};
    var names = Object.keys(schemas).sort();
    if (names.length) {
      toc.appendChild(el("a", {href: "#schemas"}, ["schemas"]));
      main.appendChild(el("h2", {id: "schemas"}, ["Schemas"]));
      names.forEach(function (name) {
        var schema = schemas[name];
        var section = el("section", {"class": "op", id: "schema-" + name}, [el("h3", {}, [name])]);
        if (schema.description) section.appendChild(el("p", {"class": "desc"}, [schema.description]));
        if (schema.enum) section.appendChild(el("p", {}, ["One of ", typeOf(schema)]));
        else section.appendChild(propertiesTable(schema));
        main.appendChild(section);
      });
    }
    if (location.hash) {
      var target = document.getElementById(location.hash.slice(1));
      if (target) target.scrollIntoView();
    }
  }

  var root = document.body.getAttribute("data-root") || "";
  var url = document.body.getAttribute("data-openapi");
  fetch(url, {headers: {Accept: "application/json"}})
    .then(function (response) {
      if (!response.ok) throw new Error(url + " answered " + response.status);
      return response.json();
    })
    .then(function (json) { spec = json; render(); })
    .catch(function (error) {
      document.getElementById("summary").textContent = "Could not load the API description: " + error.message;
    });
})();
"""
