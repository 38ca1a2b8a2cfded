#!/usr/bin/env python3
"""Interleaved medians of start (exec to exit, id printed, agent running) vs dtach -n.
usage: start_vs_dtach.py RUNS name=BIN [name=BIN ...]   (env var for a tool: name=BIN@VAR=VAL)

Each round runs every tool once, in a shuffled order, and waits 50 ms before each start: a
host keeps starting up (store, threads, first sample) for a few milliseconds after its
`start` returned, and on 2 cores that slowed whichever tool ran next by ~0.8 ms."""
import subprocess, time, statistics, sys, os, tempfile, json, shutil, random
if len(sys.argv) < 3 or not sys.argv[1].isdigit():
    sys.exit(__doc__ + "\nexample: python3 bench/start_vs_dtach.py 30 new=target/release/agent-sessions")
runs=int(sys.argv[1]); tools=[]
# The reference: installed like bench/scale.py does (Debian's package), when missing.
if not shutil.which("dtach") and os.geteuid()==0 and shutil.which("apt-get"):
    subprocess.run(["apt-get","install","-y","-q","dtach"],stdout=subprocess.DEVNULL)
if not shutil.which("dtach"):
    sys.exit("dtach is missing: apt-get install dtach")
tmp=tempfile.mkdtemp(prefix="stcmp")
for a in sys.argv[2:]:
    name,rest=a.split("=",1); extra={}
    if "@" in rest:
        rest,kv=rest.split("@",1); k,v=kv.split("=",1); extra[k]=v
    tools.append((name,rest,dict(os.environ, AGENT_SESSIONS_HOME=f"{tmp}/{name}", **extra)))
res={t[0]:[] for t in tools}; res["dtach"]=[]
def alive(p):
    try: os.kill(p,0); return True
    except OSError: return False
dt_pids=[]
try:
  for i in range(runs):
    order=list(tools)+[None]; random.shuffle(order)
    for tool in order:
      time.sleep(0.05)
      if tool is None:
        s=f"{tmp}/d{i}"
        t=time.perf_counter(); subprocess.run(["dtach","-n",s,"sleep","100000"],check=True); res["dtach"].append(time.perf_counter()-t)
        out=subprocess.run(["pgrep","-f",f"dtach -n {s} "],capture_output=True,text=True).stdout.split()
        for p in out: os.kill(int(p),15)
        continue
      name,b,env=tool
      t=time.perf_counter(); p=subprocess.run([b,"start","--json","custom","--","sleep","100000"],env=env,capture_output=True,text=True); res[name].append(time.perf_counter()-t)
      r=json.loads(p.stdout); assert r["state"]=="running", r
      subprocess.run([b,"stop","--force",r["session_id"]],env=env,capture_output=True)
      for _ in range(500):
          if not alive(r["host_pid"]) and not alive(r["agent_pid"]): break
          time.sleep(0.002)
finally:
    d=statistics.median(res["dtach"])
    for k,v in res.items():
        m=statistics.median(v)
        print(f"{k:10s} median {m*1000:6.2f} ms  min {min(v)*1000:6.2f}  ratio/dtach {m/d:5.2f}  (n={len(v)})")
    shutil.rmtree(tmp, ignore_errors=True)
