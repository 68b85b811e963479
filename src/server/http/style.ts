/**
 * The one stylesheet of every HTML page the service serves: the admin dashboard, the dev start page
 * and the flows' result and error pages. It goes into a nonce'd `<style>` (see `htmlDocument` in
 * `pages.ts`): the CSP allows no other style, so there is no stylesheet file to fetch.
 */

/**
 * The stylesheet, for `htmlDocument`.
 *
 * @example
 * const { nonce, doc } = htmlDocument('Sellers · spapi-auth admin', STYLESHEET, body);
 */
export const STYLESHEET = `
:root{--bg:#f6f7f9;--card:#fff;--ink:#1b1f24;--muted:#5b6470;--line:#e3e6ea;--accent:#2457d6;
--ok:#0f7b3f;--ok-bg:#e3f5ea;--warn:#8a5a00;--warn-bg:#fff1d6;--bad:#b42318;--bad-bg:#fde8e6;--idle:#475467;--idle-bg:#eef0f3}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
header.top{background:#111827;color:#fff}
header.top .in{max-width:1200px;margin:0 auto;padding:.7rem 1.25rem;display:flex;gap:1.25rem;align-items:center;flex-wrap:wrap}
header.top .brand{font-weight:650;letter-spacing:.2px;color:#fff;margin-right:auto}
header.top .brand small{font-weight:400;color:#9aa4b2;margin-left:.4rem}
header.top nav{display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
header.top nav a{color:#d0d5dd}header.top nav a.on{color:#fff;font-weight:600}
header.top form{margin:0}
header.top button{background:none;border:1px solid #475467;color:#d0d5dd;padding:.2rem .6rem;border-radius:6px;font:inherit;cursor:pointer}
main{max-width:1200px;margin:0 auto;padding:1.25rem}
h1{font-size:1.4rem;margin:.2rem 0 1rem}h2{font-size:1.05rem;margin:0 0 .75rem}
.grid{display:grid;gap:1rem;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));margin-bottom:1rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:1rem 1.1rem}
.stat .n{font-size:1.7rem;font-weight:650;line-height:1.1}.stat .l{color:var(--muted);font-size:.85rem}
a.card{color:inherit}a.card:hover{text-decoration:none;border-color:#b9c3d3}.stat .pill{white-space:normal}
section.card,.row{margin-bottom:1rem}h1.mono{font-size:1.3rem;word-break:normal}
details.danger{margin-top:.9rem}td.id{white-space:nowrap}
.row{display:grid;gap:1rem;grid-template-columns:2fr 1fr;margin-bottom:1rem}
.pill{display:inline-block;padding:.05rem .55rem;border-radius:999px;font-size:.8rem;font-weight:600;white-space:nowrap}
.s-active,.s-delivered,.s-closed,.s-ok{color:var(--ok);background:var(--ok-bg)}
.s-reauthorization_required,.s-pending,.s-half_open,.s-warn{color:var(--warn);background:var(--warn-bg)}
.s-dead,.s-open,.s-bad{color:var(--bad);background:var(--bad-bg)}
.s-unknown{color:var(--idle);background:var(--idle-bg)}
table{width:100%;border-collapse:collapse;background:var(--card)}
th,td{text-align:left;padding:.55rem .7rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.78rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600;background:#fafbfc}
td.mono,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.86rem;overflow-wrap:anywhere}
.tablecard{padding:0;overflow:hidden}
.tablecard .head{padding:.9rem 1.1rem .1rem}
.muted{color:var(--muted)}.err{color:var(--bad)}.small{font-size:.85rem}
form.filters{display:flex;gap:.5rem;flex-wrap:wrap;margin-bottom:.75rem}
input,select,button{font:inherit}
input[type=search],input[type=text],input[type=password],select{padding:.45rem .6rem;border:1px solid #cfd4dc;border-radius:7px;background:#fff;min-width:0}
input[type=search]{flex:1 1 240px}
.btn{display:inline-block;background:var(--accent);color:#fff;border:0;border-radius:7px;padding:.48rem .95rem;cursor:pointer;font-weight:600}
.btn:hover{text-decoration:none;filter:brightness(1.08)}
.btn.ghost{background:#fff;color:var(--ink);border:1px solid #cfd4dc}
.btn.danger{background:var(--bad)}
.pager{display:flex;gap:.5rem;justify-content:flex-end;padding:.75rem}
.notice{background:var(--ok-bg);color:var(--ok);border-radius:8px;padding:.6rem .9rem;margin-bottom:1rem}
.tabs{display:flex;gap:.4rem;margin-bottom:.75rem;flex-wrap:wrap}
.tabs a{padding:.3rem .8rem;border-radius:999px;border:1px solid var(--line);background:#fff;color:var(--ink)}
.tabs a.on{background:var(--ink);color:#fff;border-color:var(--ink)}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1.2rem;margin:0}
dl.kv dt{color:var(--muted)}dl.kv dd{margin:0}
details.danger summary{cursor:pointer;color:var(--bad);font-weight:600}
.chart svg{width:100%;height:auto;display:block}
.legend{display:flex;gap:1rem;font-size:.85rem;color:var(--muted);margin-top:.4rem}
.legend i{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin-right:.35rem;vertical-align:-1px}
.legend i.r{background:#2457d6}.legend i.e{background:#d92d20}
.login{max-width:380px;margin:4rem auto}
.login label{display:block;margin:.75rem 0 .3rem;color:var(--muted)}
.login input{width:100%}
.empty{padding:2rem;text-align:center;color:var(--muted)}
@media (max-width:760px){
 .row{grid-template-columns:1fr}
 main{padding:.8rem}
 table.rows thead{display:none}
 table.rows tr{display:block;border-bottom:1px solid var(--line);padding:.5rem .2rem}
 table.rows td{display:flex;gap:.75rem;border:0;padding:.2rem .7rem}
 table.rows td::before{content:attr(data-label);flex:0 0 7.5rem;color:var(--muted);font-size:.8rem;text-transform:uppercase;letter-spacing:.03em;padding-top:.1rem}
 .grid{grid-template-columns:repeat(2,minmax(0,1fr))}
 td.id{white-space:normal}
}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.86em;background:var(--idle-bg);padding:.05rem .3rem;border-radius:4px;overflow-wrap:anywhere}
pre.cmd{margin:.5rem 0 0;background:#111827;color:#e5e7eb;border-radius:8px;padding:.75rem .9rem;overflow-x:auto;font:.84rem/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap;overflow-wrap:anywhere}
pre.cmd code{background:none;padding:0;color:inherit;font-size:inherit}
.lede{color:var(--muted);margin:-.5rem 0 1.25rem;max-width:46rem}
.hero h1{font-size:1.6rem}
.row>.card{margin-bottom:0}
.field{display:flex;flex-direction:column;gap:.3rem;color:var(--muted);font-size:.85rem;flex:1 1 12rem}
.fields{display:flex;gap:.75rem;flex-wrap:wrap;margin-bottom:1rem}
.fields select{width:100%;color:var(--ink);font-size:.95rem}
.btn.big{padding:.65rem 1.3rem;font-size:1rem}
.actions{display:flex;gap:1rem;align-items:center;flex-wrap:wrap;margin:0}
ul.plain{list-style:none;margin:0;padding:0}ul.plain li{padding:.45rem 0;border-bottom:1px solid var(--line)}ul.plain li:last-child{border:0}
.dot{display:inline-block;width:.55rem;height:.55rem;border-radius:50%;margin-right:.4rem;vertical-align:1px;background:var(--idle)}
.dot.ok{background:var(--ok)}.dot.bad{background:var(--bad)}
main.narrow{max-width:36rem;padding-top:2.5rem}
.flow{border-top:4px solid var(--line)}.flow.bad{border-top-color:var(--bad)}.flow:has(p.ok){border-top-color:var(--ok)}
.flow h1{margin-top:0}
.flow p.ok,.flow p.err{border-radius:8px;padding:.7rem .9rem;font-weight:500}
.flow p.ok{color:var(--ok);background:var(--ok-bg)}.flow p.err{color:var(--bad);background:var(--bad-bg)}
@media (max-width:760px){
 main.narrow{padding-top:1rem}
 .hero h1{font-size:1.35rem}
 .btn.big{width:100%;text-align:center}
}`;
