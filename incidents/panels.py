"""What the incidents app adds to the self-service site."""

NAV = [("Report an incident", "incidents:report"), ("My reports", "incidents:mine")]


def home_panel(request):
    return {"template": "incidents/panel.html"}
