from dbapp.cli import app

app(prog_name="dbapp")
